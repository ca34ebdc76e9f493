from datetime import date

from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import form_errors
from fangyi.people import services
from fangyi.people.filters import PersonFilterForm
from fangyi.people.forms import PersonForm
from fangyi.people.models import Person

router = Router(tags=["persons"])


class PersonOut(Schema):
    id: int
    name: str
    id_type: str
    id_number: str = Field(description="masked unless revealed")
    phone: str = Field(description="masked unless revealed")
    sex: str
    birth_date: date | None
    grid: int = Field(description="region id of the person's grid")
    grid_name: str
    category: str
    address: str
    workplace: str
    key_groups: list[str]
    revealed: bool = False


class PersonIn(Schema):
    name: str
    id_type: Person.IdType = Person.IdType.RESIDENT_ID
    id_number: str = ""
    phone: str = ""
    grid: int
    sex: Person.Sex | None = None
    birth_date: date | None = None
    nationality: str = "中国"
    address: str = ""
    category: Person.Category = Person.Category.RESIDENT
    workplace: str = ""
    key_groups: list[str] = Field(default_factory=list, description="key group codes")


class ValidationErrorOut(Schema):
    detail: list[dict]
    existing_person: int | None = None


def person_out(person: Person, revealed: dict | None = None) -> dict:
    return {
        "id": person.pk,
        "name": person.name,
        "id_type": person.id_type,
        "id_number": revealed["id_number"] if revealed else person.id_number_masked,
        "phone": revealed["phone"] if revealed else person.phone_masked,
        "sex": person.sex,
        "birth_date": person.birth_date,
        "grid": person.grid_id,
        "grid_name": person.grid.full_name,
        "category": person.category,
        "address": person.address,
        "workplace": person.workplace,
        "key_groups": [g.code for g in person.key_groups.all()],
        "revealed": revealed is not None,
    }


class PersonPagination(PageNumberPagination):
    """Slices the queryset first, then shapes (and masks) only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [person_out(p) for p in page[self.items_attribute]]
        return page


@router.get("/persons", response=list[PersonOut])
@paginate(PersonPagination, page_size=50)
def list_persons(
    request,
    search: str = "",
    region: int | None = None,
    category: str = "",
    key_group: str = "",
):
    """Persons in the caller's jurisdiction. `search`: name, pinyin or initials (zs),
    last 4 digits of ID or phone, a full ID or phone number."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    filters = PersonFilterForm(
        {"q": search, "region": region, "category": category, "key_group": key_group},
        user=request.user,
    )
    return filters.persons().select_related("grid").prefetch_related("key_groups")


@router.get("/persons/{person_id}", response=PersonOut)
def get_person(request, person_id: int, reveal: bool = False):
    """`reveal=true` returns the ID number and phone in full (logged; needs the right)."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    person = get_visible_or_404(Person, request.user, pk=person_id)
    if not reveal:
        return person_out(person)
    if not request.user.can(Capability.REVEAL_PERSONAL_DATA):
        raise HttpError(403, "Your role may not reveal personal data / 您的角色无权查看完整信息")
    return person_out(person, services.reveal_personal_data(request.user, person, via="api"))


@router.post("/persons", response={201: PersonOut, 422: ValidationErrorOut})
def create_person(request, payload: PersonIn):
    require_capability(request.user, Capability.EDIT_PERSONS)
    data = {k: v for k, v in payload.dict().items() if v is not None}
    form = PersonForm(data, user=request.user)
    if not form.is_valid():
        return Status(
            422,
            {
                "detail": form_errors(form),
                "existing_person": form.duplicate_of and form.duplicate_of.pk,
            },
        )
    try:
        person = services.create_person(request.user, form.cleaned_data)
    except services.DuplicatePersonError as error:
        raise HttpError(409, f"duplicate of person {error.existing.pk}") from None
    return Status(201, person_out(person))
