"""Use cases of investigation and contact tracing (流调与密接).

Investigation: one per case, due 24 hours after the report (the cases service starts the
clock); completing it closes that task. Contacts: each registration starts the 12-hour
control duty, closed when control is in place. Links between cases (who infected whom) are
made only by `link_cases`, so clusters follow every new link.

Pages, the API and the importer all come through here; rule violations raise
`TracingRuleError` with a Chinese message and the input at fault.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.audit import acting_user, diff, log_access, record_change
from fangyi.core.models import AccessLog, ChangeLog, Duty
from fangyi.core.rules import RuleError
from fangyi.core.timefmt import local_minute
from fangyi.geo.models import Organisation
from fangyi.people.models import Person
from fangyi.people.services import create_person
from fangyi.tracing import clusters
from fangyi.tracing.models import CaseLink, Contact, Investigation, TrajectoryEntry

# Cards that are reported (not drafts, not deleted): the ones tracing works on.
REPORTED = (CaseReport.Status.SUBMITTED, CaseReport.Status.REVIEWED)
NOT_STARTED = _("请先填写并保存调查内容。")
INVESTIGATION_FIELDS = (
    "exposure_history",
    "travel_history",
    "suspected_source_type",
    "source_case",
    "source_place",
    "notes",
)


class TracingRuleError(RuleError):
    """A tracing rule refused the action."""


# Investigation ----------------------------------------------------------------------------


def investigation_snapshot(investigation: Investigation) -> dict[str, str]:
    return {
        "exposure_history": investigation.exposure_history,
        "travel_history": investigation.travel_history,
        "suspected_source_type": investigation.get_suspected_source_type_display(),
        "source_case": f"#{investigation.source_case_id}" if investigation.source_case_id else "",
        "source_place": investigation.source_place.name if investigation.source_place_id else "",
        "notes": investigation.notes,
        "completed_at": local_minute(investigation.completed_at),
    }


@transaction.atomic
def start_investigation(actor, case: CaseReport) -> Investigation:
    """The investigation of the case, opened by the actor on first use."""
    if case.status not in REPORTED:
        raise TracingRuleError(_("只能对已报告的病例开展流行病学调查。"), code="case_status")
    investigation, created = Investigation.objects.get_or_create(
        case=case, defaults={"region": case.region, "investigator": acting_user(actor)}
    )
    if created:
        record_change(
            actor,
            investigation,
            ChangeLog.Action.CREATE,
            diff({}, investigation_snapshot(investigation)),
            region=investigation.region,
        )
    return investigation


@transaction.atomic
def save_investigation(actor, investigation: Investigation, data: dict[str, Any]) -> Investigation:
    """Exposure and travel history, the suspected source (a case, a place or unknown), notes.
    Only the source matching the source type is kept."""
    before = investigation_snapshot(investigation)
    values = {field: data[field] for field in INVESTIGATION_FIELDS if field in data}
    source_type = values.get("suspected_source_type", investigation.suspected_source_type)
    if source_type != Investigation.SourceType.CASE:
        values["source_case"] = None
    if source_type != Investigation.SourceType.PLACE:
        values["source_place"] = None
    source_case = values.get("source_case")
    if source_case is not None and source_case.pk == investigation.case_id:
        raise TracingRuleError(_("来源病例不能是本病例。"), field="source_case")
    if source_type == Investigation.SourceType.CASE and source_case is None:
        raise TracingRuleError(_("请填写来源病例的报告卡编号。"), field="source_case")
    if source_type == Investigation.SourceType.PLACE and values.get("source_place") is None:
        raise TracingRuleError(_("请选择来源场所。"), field="source_place")
    changed = []
    for field, value in values.items():
        # getattr with a default: an unset foreign key raises an AttributeError subclass.
        if getattr(investigation, field, None) != value:
            setattr(investigation, field, value)
            changed.append(field)
    if changed:
        investigation.save(update_fields=changed)
    record_change(
        actor,
        investigation,
        ChangeLog.Action.UPDATE,
        diff(before, investigation_snapshot(investigation)),
        region=investigation.region,
    )
    return investigation


def trajectory_snapshot(entry: TrajectoryEntry) -> dict[str, str]:
    return {
        "place": entry.place.name if entry.place_id else entry.place_text,
        "start": local_minute(entry.start),
        "end": local_minute(entry.end),
        "notes": entry.notes,
    }


@transaction.atomic
def add_trajectory_entry(
    actor,
    investigation: Investigation,
    *,
    start: datetime,
    end: datetime,
    place=None,
    place_text: str = "",
    notes: str = "",
) -> TrajectoryEntry:
    """Where the case was and when: a registered place, or a place described in words."""
    if place is None and not place_text.strip():
        raise TracingRuleError(_("请选择场所或填写地点。"), field="place_text")
    if start >= end:
        raise TracingRuleError(_("结束时间必须晚于开始时间。"), field="end")
    entry = TrajectoryEntry.objects.create(
        investigation=investigation,
        place=place,
        place_text="" if place is not None else place_text.strip(),
        start=start,
        end=end,
        notes=notes,
    )
    record_change(
        actor,
        entry,
        ChangeLog.Action.CREATE,
        diff({}, trajectory_snapshot(entry)),
        region=investigation.region,
    )
    # A place shared with another case joins their clusters now, not at the nightly run.
    clusters.on_trajectory_recorded(investigation.case)
    return entry


@transaction.atomic
def remove_trajectory_entry(actor, entry: TrajectoryEntry) -> None:
    removed = {field: [value, ""] for field, value in trajectory_snapshot(entry).items() if value}
    record_change(actor, entry, ChangeLog.Action.DELETE, removed, region=entry.investigation.region)
    entry.delete()


@transaction.atomic
def complete_investigation(actor, investigation: Investigation) -> Investigation:
    """Close the investigation and its 24-hour task. A known source case becomes a
    transmission link (source → this case)."""
    if investigation.completed_at is not None:
        raise TracingRuleError(_("该调查已完成。"), code="completed")
    before = investigation_snapshot(investigation)
    investigation.completed_at = timezone.now()
    investigation.save(update_fields=["completed_at"])
    record_change(
        actor,
        investigation,
        ChangeLog.Action.UPDATE,
        diff(before, investigation_snapshot(investigation)),
        region=investigation.region,
    )
    deadlines.close_task(
        investigation.case, Duty.INVESTIGATE_CASE, done_at=investigation.completed_at
    )
    if (
        investigation.suspected_source_type == Investigation.SourceType.CASE
        and investigation.source_case is not None
    ):
        link_cases(actor, investigation.source_case, investigation.case)
    return investigation


# Transmission links -----------------------------------------------------------------------


@transaction.atomic
def link_cases(actor, infector: CaseReport, infectee: CaseReport) -> CaseLink:
    """Record that `infector` infected `infectee` (idempotent) and tell the clusters."""
    if infector.pk == infectee.pk:
        raise TracingRuleError(_("病例不能是自己的传染来源。"), code="self_link")
    if CaseLink.objects.filter(infector=infectee, infectee=infector).exists():
        raise TracingRuleError(_("这两例病例之间已登记了相反方向的传播关系。"), code="reverse_link")
    link, created = CaseLink.objects.get_or_create(
        infector=infector, infectee=infectee, defaults={"created_by": acting_user(actor)}
    )
    if created:
        record_change(
            actor,
            link,
            ChangeLog.Action.CREATE,
            {"infector": ["", f"#{infector.pk}"], "infectee": ["", f"#{infectee.pk}"]},
            region=infectee.region,
        )
        clusters.on_link_added(link)
    return link


# Contacts ---------------------------------------------------------------------------------


def contact_snapshot(contact: Contact) -> dict[str, str]:
    return {
        "person": contact.person.name,
        "case": f"#{contact.case_id}" if contact.case_id else "",
        "source_contact": f"#{contact.source_contact_id}" if contact.source_contact_id else "",
        "relation": contact.relation,
        "setting": contact.get_setting_display(),
        "last_exposure_at": local_minute(contact.last_exposure_at),
        "found_by": contact.get_found_by_display(),
        "source_note": contact.source_note,
        "needs_assistance": str(_("是")) if contact.needs_assistance else "",
        "controlled_at": local_minute(contact.controlled_at),
        "became_case": f"#{contact.became_case_id}" if contact.became_case_id else "",
    }


def new_contact(
    actor,
    *,
    person: Person,
    case: CaseReport | None = None,
    source_contact: Contact | None = None,
    relation: str = "",
    setting: str,
    last_exposure_at: datetime,
    found_by: str = Contact.FoundBy.INVESTIGATION,
    source_note: str = "",
    needs_assistance: bool = False,
    now: datetime | None = None,
) -> Contact:
    """An unsaved contact, checked against the rules that need no query (the importer
    checks whole files with these, then looks up duplicates in one go)."""
    if (case is None) == (source_contact is None):
        raise TracingRuleError(_("请指定指示病例或所接触的密接（二选一）。"), field="case")
    if source_contact is not None and source_contact.case_id is None:
        raise TracingRuleError(
            _("只能登记密接的接触者（次密接），不能再往下登记。"), field="source_contact"
        )
    if case is not None and case.status not in REPORTED:
        raise TracingRuleError(_("只能为已报告的病例登记密接。"), field="case")
    exposed_to = case.person_id if case is not None else source_contact.person_id
    if person.pk == exposed_to:
        raise TracingRuleError(_("不能把本人登记为自己的接触者。"), field="person")
    if last_exposure_at > (now or timezone.now()):
        raise TracingRuleError(
            _("末次接触时间不能晚于现在。"), field="last_exposure_at", code="future"
        )
    return Contact(
        person=person,
        case=case,
        source_contact=source_contact,
        region=person.grid,
        relation=relation.strip(),
        setting=setting,
        last_exposure_at=last_exposure_at,
        found_by=found_by,
        source_note=source_note.strip(),
        needs_assistance=needs_assistance,
        registered_by=acting_user(actor),
        registered_at=now or timezone.now(),
    )


def create_contacts(actor, contacts: list[Contact]) -> list[Contact]:
    """Save contacts built by `new_contact` and checked for duplicates: one insert for the
    contacts, then each one's audit entry and 12-hour control task."""
    Contact.objects.bulk_create(contacts)
    hours = deadlines.rule_hours(Duty.CONTROL_CONTACT)
    # The village (community) committee of the contact's grid puts them under control.
    committees = Organisation.objects.nearest_each(
        Organisation.Type.VILLAGE_COMMITTEE, {contact.region_id for contact in contacts}
    )
    for contact in contacts:
        record_change(
            actor,
            contact,
            ChangeLog.Action.CREATE,
            diff({}, contact_snapshot(contact)),
            region=contact.region,
        )
        deadlines.open_task(
            Duty.CONTROL_CONTACT,
            contact,
            region=contact.region,
            started_at=contact.registered_at,
            hours=hours,
            organisation=committees[contact.region_id],
            label=contact.person.name,
        )
    return contacts


def duplicate_message(contact: Contact):
    if contact.case_id:
        return _("该人员已登记为此病例的密接，不能重复登记。")
    return _("该人员已登记为此密接的接触者，不能重复登记。")


@transaction.atomic
def register_contact(actor, *, person: Person, **details) -> Contact:
    """Register a close contact of a case (`case=`) or a contact of a close contact
    (`source_contact=`), and start the 12-hour control duty. See `new_contact`."""
    contact = new_contact(actor, person=person, **details)
    same_source = (
        {"case": contact.case} if contact.case else {"source_contact": contact.source_contact}
    )
    if Contact.objects.filter(person=person, **same_source).exists():
        raise TracingRuleError(duplicate_message(contact), field="person", code="duplicate")
    return create_contacts(actor, [contact])[0]


@transaction.atomic
def register_new_contact(actor, person_data: dict[str, Any], **details) -> Contact:
    """Register a person not yet known (data validated by PersonForm) and their contact."""
    person = create_person(actor, person_data)
    return register_contact(actor, person=person, **details)


@transaction.atomic
def mark_controlled(actor, contact: Contact) -> Contact:
    """Control measures are in place (落实管控): the 12-hour task is done."""
    if contact.controlled_at is not None:
        raise TracingRuleError(_("该密接已落实管控。"), code="controlled")
    before = contact_snapshot(contact)
    contact.controlled_at = timezone.now()
    contact.save(update_fields=["controlled_at"])
    record_change(
        actor,
        contact,
        ChangeLog.Action.UPDATE,
        diff(before, contact_snapshot(contact)),
        region=contact.region,
    )
    deadlines.close_task(contact, Duty.CONTROL_CONTACT, done_at=contact.controlled_at)
    return contact


@transaction.atomic
def contact_became_case(actor, contact: Contact, case: CaseReport) -> Contact:
    """The contact is now a case: keep the fact and link the case to whoever infected it
    (the index case; for a contact of a close contact, that close contact if it became a
    case)."""
    if case.person_id != contact.person_id:
        raise TracingRuleError(_("该病例与密接不是同一人。"), field="case")
    if contact.became_case_id == case.pk:
        return contact
    if contact.became_case_id is not None:
        raise TracingRuleError(_("该密接已关联到另一份报告卡。"), field="case")
    before = contact_snapshot(contact)
    contact.became_case = case
    contact.save(update_fields=["became_case"])
    record_change(
        actor,
        contact,
        ChangeLog.Action.UPDATE,
        diff(before, contact_snapshot(contact)),
        region=contact.region,
    )
    infector = contact.case if contact.case_id else contact.source_contact.became_case
    if infector is not None and infector.pk != case.pk:
        link_cases(actor, infector, case)
    return contact


def on_case_reported(actor, case: CaseReport) -> list[Contact]:
    """A reported case whose person was a contact of a case of the same disease, exposed
    before the diagnosis, becomes that contact's case (for the cases service to call on
    submission)."""
    contacts = Contact.objects.filter(
        person=case.person_id,
        became_case__isnull=True,
        last_exposure_at__lte=case.diagnosed_at,
    ).select_related("case", "source_contact__case", "source_contact__became_case", "person")
    matching = [
        contact
        for contact in contacts
        if (contact.case or contact.source_contact.case).disease_id == case.disease_id
    ]
    for contact in matching:
        contact_became_case(actor, contact, case)
    return matching


# Assistance lists (协查) -------------------------------------------------------------------


def assistance_contacts(user, case: CaseReport):
    """The case's contacts (both degrees) who left the area and need another jurisdiction."""
    return (
        Contact.objects.visible_to(user)
        .of_case(case.pk)
        .filter(needs_assistance=True)
        .select_related("person", "case__disease", "source_contact__case__disease")
        .order_by("registered_at", "id")
    )


def log_assistance_export(
    actor, case: CaseReport, contacts: Iterable[Contact], *, request=None, via: str = "web"
) -> None:
    """An assistance list carries ID numbers and phones in clear: logged as an export with
    the revealed fields and the contacts it holds."""
    ids = [contact.pk for contact in contacts]
    log_access(
        actor,
        AccessLog.Action.EXPORT,
        obj=case,
        label=str(_("协查名单：报告卡 #%(number)s") % {"number": case.pk}),
        region=actor.region,
        detail={
            "list": "assistance",
            "case": case.pk,
            "rows": len(ids),
            "contacts": ids,
            "revealed": ["id_number", "phone"],
        },
        request=request,
        via=via,
    )
