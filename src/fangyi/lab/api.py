"""Sampling and testing over the API: labs' systems post results in batches, collection
systems register tubes, and a tube can be looked up by its barcode. Scoped like the pages;
the same readers and services act, so a batch follows the same rules as a file: all of it
is stored or none, and posting it again changes nothing.

Rejected rows carry `reason` (Chinese) and `reason_en` (English), both stored with the
import (`services.problem_reason`)."""

from datetime import datetime

from django.conf import settings
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema, Status

from fangyi.accounts.roles import Capability
from fangyi.core import crypto
from fangyi.core.access import require_capability
from fangyi.core.api_errors import bilingual
from fangyi.core.masking import mask_name
from fangyi.geo.models import Organisation
from fangyi.lab import imports, services
from fangyi.lab.import_forms import lab_of
from fangyi.lab.models import CollectionSite, Purpose, ResultImport, Sample, SampleType
from fangyi.people.models import ID_NUMBER, Person
from fangyi.people.validation import normalise_document_number

router = Router(tags=["lab"])

BATCH_MAX_ITEMS = 10_000
# Fields of a tube as the services name them → as this API names them.
API_FIELDS = {"persons": "id_numbers", "person": "id_numbers", "site": "site_id", "lab": "lab_id"}


# Schemas ----------------------------------------------------------------------------------


class ResultItemIn(Schema):
    barcode: str
    result: str = Field(description="negative, positive or invalid (阴性、阳性、无效)")
    result_at: str = Field(
        description="ISO 8601 or 2022-04-01 08:30; local time (Asia/Shanghai) without offset"
    )
    ct_values: dict[str, float | str | None] = Field(
        default_factory=dict, description='Ct value per gene, e.g. {"ORF1ab": 30.1, "N": 29.5}'
    )
    method: str = Field("", description="rt_pcr, isothermal, antigen, antibody or empty")
    reviewer: str = ""


class ResultsIn(Schema):
    results: list[ResultItemIn] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)


class RejectedRowOut(Schema):
    line: int = Field(description="the item's position in `results`, from 1")
    column: str = Field(description="barcode, result, result_at, method, reviewer or ct:<gene>")
    reason: str
    reason_en: str


class ImportOut(Schema):
    import_id: int
    outcome: str = Field(description="saved, or rejected (nothing stored)")
    stored: int = Field(description="tubes that got their result from this batch")
    unchanged: int = Field(description="tubes that already had the same result")
    positives: int
    rejected: list[RejectedRowOut]


class SampleIn(Schema):
    barcode: str
    purpose: str = Field(description="fever_clinic, mass_screening, close_contact…")
    sample_type: str = SampleType.OROPHARYNGEAL
    pool_size: int | None = Field(None, description="1, 5 or 10; default the persons' count")
    collected_at: datetime | None = Field(None, description="default now")
    id_numbers: list[str] = Field(
        default_factory=list, description="the persons' ID numbers (a pool may start empty)"
    )
    site_id: int | None = Field(None, description="a collection site of a mass screening")
    lab_id: int | None = Field(None, description="the lab the tube is sent to")


class MemberOut(Schema):
    position: int
    person: int
    name: str = Field(description="masked")
    id_number: str = Field(description="masked")
    status: str
    retest: str | None = Field(description="the barcode of the person's single re-test tube")


class SampleOut(Schema):
    id: int
    barcode: str
    sample_type: str
    purpose: str
    pool_size: int
    collected_at: datetime
    received_at: datetime | None
    due_at: datetime
    late: bool
    site: int | None
    collecting_organisation: int | None
    lab: int | None
    lab_name: str
    place: int | None
    result: str | None
    result_at: datetime | None
    ct_values: dict
    method: str
    reviewer: str
    case: int | None = Field(description="the suspected-case draft a positive opened")
    members: list[MemberOut]


class ErrorsOut(Schema):
    detail: list[dict]


# Results ----------------------------------------------------------------------------------


@router.post("/lab/results", response={200: ImportOut, 403: ErrorsOut, 422: ImportOut})
def post_results(request, payload: ResultsIn):
    """A batch of results of the caller's lab (at most 10,000). Saved (200) when every item
    passes, else rejected (422) with every failing item, and nothing stored. Items whose
    tube already has the same result change nothing, so a batch may be posted again."""
    require_capability(request.user, Capability.RECORD_RESULTS)
    lab = lab_of(request.user)
    if lab is None:
        return Status(403, not_a_lab())
    items = [item.dict() for item in payload.results]
    # The rejection reasons are the import's record: kept in the language of the records.
    with translation.override(settings.LANGUAGE_CODE):
        log = imports.import_batch(request.user, lab, items)
    body = import_out(log)
    return Status(200 if log.outcome == ResultImport.Outcome.SAVED else 422, body)


def not_a_lab() -> dict:
    message = _("您所在的单位不是检测实验室，不能报送检测结果。")
    return {"detail": [{"loc": ["body"], "type": "not_a_lab", **bilingual(message)}]}


def import_out(log: ResultImport) -> dict:
    return {
        "import_id": log.pk,
        "outcome": log.outcome,
        "stored": log.stored,
        "unchanged": log.unchanged,
        "positives": log.positives,
        "rejected": [
            {
                "line": problem["line"],
                "column": problem["column"],
                "reason": services.problem_reason(problem, "zh-hans"),
                "reason_en": services.problem_reason(problem, "en"),
            }
            for problem in log.problems
        ],
    }


# Tubes ------------------------------------------------------------------------------------


@router.post("/lab/samples", response={201: SampleOut, 422: ErrorsOut})
def register_sample(request, payload: SampleIn):
    """Register a collected tube: one person's or a pooled tube (5 or 10), its members by ID
    number. Persons are found in the whole registry (a collection site tests whoever
    comes); the answer shows them masked."""
    require_capability(request.user, Capability.COLLECT_SAMPLES)
    errors = []
    if payload.purpose not in Purpose.values:
        errors.append(field_error("purpose", _("检测目的不正确。")))
    if payload.sample_type not in SampleType.values:
        errors.append(field_error("sample_type", _("样本类型不正确。")))
    persons, unknown = persons_by_id_number(payload.id_numbers)
    errors += [field_error(["id_numbers", i], _("证件号码未登记。")) for i in unknown]
    site = lab = None
    if payload.site_id is not None:
        site = (
            CollectionSite.objects.visible_to(request.user)
            .select_related("campaign", "region", "organisation")
            .filter(pk=payload.site_id)
            .first()
        )
        if site is None:
            errors.append(field_error("site_id", _("采样点不存在或不在您的管辖范围内。")))
    if payload.lab_id is not None:
        lab = Organisation.objects.filter(type=Organisation.Type.LAB, pk=payload.lab_id).first()
        if lab is None:
            errors.append(field_error("lab_id", _("检测实验室不存在。")))
    if errors:
        return Status(422, {"detail": errors})
    collected_at = payload.collected_at
    if collected_at is not None and timezone.is_naive(collected_at):
        collected_at = timezone.make_aware(collected_at)
    try:
        sample = services.collect_sample(
            request.user,
            barcode=payload.barcode,
            purpose=payload.purpose,
            persons=persons,
            pool_size=payload.pool_size,
            sample_type=payload.sample_type,
            collected_at=collected_at,
            site=site,
            lab=lab,
        )
    except services.LabRuleError as refused:
        location = API_FIELDS.get(refused.field, refused.field)
        detail = field_error(location, refused.message, refused.code)
        return Status(422, {"detail": [detail]})
    return Status(201, sample_out(sample))


def field_error(location, message, code: str = "invalid") -> dict:
    where = location if isinstance(location, list) else [location] if location else []
    return {"loc": ["body", *where], "type": code, **bilingual(message)}


def persons_by_id_number(numbers: list[str]) -> tuple[list[Person], list[int]]:
    """The persons in the order of the numbers, and the positions of numbers not registered
    (one query)."""
    keys = [crypto.keyed_hash(normalise_document_number(n), ID_NUMBER) for n in numbers]
    found = Person.objects.filter(id_number_hash__in=[k for k in keys if k]).select_related("grid")
    by_key = {person.id_number_hash: person for person in found}
    persons = [by_key[key] for key in keys if key in by_key]
    return persons, [i for i, key in enumerate(keys) if key not in by_key]


@router.get("/lab/samples/{barcode}", response=SampleOut)
def get_sample(request, barcode: str):
    """A tube of the caller's scope by its barcode: its result and its members' statuses."""
    require_capability(request.user, Capability.VIEW_LAB)
    sample = (
        Sample.objects.visible_to(request.user)
        .select_related("lab")
        .filter(barcode=services.normalise_barcode(barcode))
        .first()
    )
    if sample is None:
        raise Http404
    return sample_out(sample)


def sample_out(sample: Sample) -> dict:
    members = sample.examinees.select_related("person", "retest").order_by("position")
    return {
        "id": sample.pk,
        "barcode": sample.barcode,
        "sample_type": sample.sample_type,
        "purpose": sample.purpose,
        "pool_size": sample.pool_size,
        "collected_at": sample.collected_at,
        "received_at": sample.received_at,
        "due_at": sample.due_at,
        "late": sample.is_late,
        "site": sample.site_id,
        "collecting_organisation": sample.collecting_organisation_id,
        "lab": sample.lab_id,
        "lab_name": sample.lab.name if sample.lab_id else "",
        "place": sample.place_id,
        "result": sample.result,
        "result_at": sample.result_at,
        "ct_values": sample.ct_values,
        "method": sample.method,
        "reviewer": sample.reviewer,
        "case": sample.case_id,
        "members": [
            {
                "position": member.position,
                "person": member.person_id,
                "name": mask_name(member.person.name),
                "id_number": member.person.id_number_masked,
                "status": member.outcome,
                "retest": member.retest.barcode if member.retest_id else None,
            }
            for member in members
        ],
    }
