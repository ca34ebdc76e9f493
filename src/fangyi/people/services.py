"""Use cases on persons. Pages, the API, imports and the demo all come through here."""

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from fangyi.core import crypto
from fangyi.core.audit import acting_user, diff, log_access, record_change
from fangyi.core.models import AccessLog, ChangeLog
from fangyi.people.models import ID_NUMBER, Person
from fangyi.people.pinyin import name_pinyin

# Plain fields copied from validated data onto a Person.
PLAIN_FIELDS = (
    "name",
    "id_type",
    "sex",
    "birth_date",
    "nationality",
    "address",
    "grid",
    "household",
    "category",
    "workplace",
)


class DuplicatePersonError(Exception):
    def __init__(self, existing: Person):
        super().__init__(f"person {existing.pk} already holds this document number")
        self.existing = existing


def find_duplicate(id_number: str, exclude: Person | None = None) -> Person | None:
    """The person already registered with this document number, in any jurisdiction."""
    found = Person.objects.filter(id_number_hash=crypto.keyed_hash(id_number, ID_NUMBER))
    if exclude is not None and exclude.pk:
        found = found.exclude(pk=exclude.pk)
    return found.select_related("grid").first()


def _apply(person: Person, data: dict[str, Any]) -> list[str]:
    """Copy validated data onto the person; return the database columns that changed."""
    changed = []
    for field in PLAIN_FIELDS:
        # getattr with a default: an unset foreign key raises an AttributeError subclass.
        if field in data and getattr(person, field, None) != data[field]:
            setattr(person, field, data[field])
            changed.append(field)
    if "name" in changed or not person.name_pinyin:
        person.name_pinyin, person.name_initials = name_pinyin(person.name)
        changed += ["name_pinyin", "name_initials"]
    if "id_number" in data and (not person.pk or data["id_number"] != person.id_number):
        person.set_id_number(data["id_number"])
        changed += ["id_number_encrypted", "id_number_hash", "id_last4_hash"]
    if "phone" in data and (not person.pk or data["phone"] != person.phone):
        person.set_phone(data["phone"])
        changed += ["phone_encrypted", "phone_hash", "phone_last4_hash"]
    return changed


def _save_guarding_duplicates(person: Person, **kwargs) -> None:
    try:
        with transaction.atomic():
            person.save(**kwargs)
    except IntegrityError:
        existing = find_duplicate(person.id_number, exclude=person)
        if existing is None:
            raise
        raise DuplicatePersonError(existing) from None


@transaction.atomic
def create_person(actor, data: dict[str, Any]) -> Person:
    person = Person(created_by=acting_user(actor))
    _apply(person, data)
    _save_guarding_duplicates(person)
    if data.get("key_groups"):
        person.key_groups.set(data["key_groups"])
    record_change(
        actor,
        person,
        ChangeLog.Action.CREATE,
        diff({}, person.audit_snapshot()),
        region=person.grid,
    )
    return person


@transaction.atomic
def update_person(actor, person: Person, data: dict[str, Any]) -> Person:
    before = person.audit_snapshot()
    changed = _apply(person, data)
    person.updated_at = timezone.now()
    _save_guarding_duplicates(person, update_fields=[*changed, "updated_at"])
    if "key_groups" in data:
        person.key_groups.set(data["key_groups"])
    record_change(
        actor,
        person,
        ChangeLog.Action.UPDATE,
        diff(before, person.audit_snapshot()),
        region=person.grid,
    )
    return person


def reveal_personal_data(actor, person: Person, *, request=None, via: str = "web") -> dict:
    """The clear ID number and phone, for a user allowed to see them; always logged."""
    log_access(
        actor,
        AccessLog.Action.REVEAL,
        obj=person,
        region=person.grid,
        detail={"fields": ["id_number", "phone"]},
        request=request,
        via=via,
    )
    return {"id_number": person.id_number, "phone": person.phone}


def bulk_create_persons(persons: Iterable[Person], batch_size: int = 2000) -> int:
    """Insert prepared persons (set_id_number/set_phone already called) in batches.

    For generated and imported data: no per-row audit entry, the batch is the record."""
    count = 0
    batch: list[Person] = []
    for person in persons:
        batch.append(person)
        if len(batch) >= batch_size:
            Person.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        Person.objects.bulk_create(batch)
        count += len(batch)
    return count
