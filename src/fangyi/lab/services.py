"""Use cases of sampling and testing (应检尽检): collecting tubes, storing results, what a
result sets off, mass-screening rounds and their coverage, testing regimens.

Every entry point (the collection and result pages, the result import, the labs' API, the
demo, jobs) comes through these functions; rule violations raise `LabRuleError` with a
Chinese message.

Results are stored in batches by `store_results`, the one place that writes a result. A
batch is all or nothing and set-based: its rows go into a scratch table (COPY on
PostgreSQL), are checked against the samples with a few joins, and are written with one
UPDATE that only fills tubes without a result. Only the tubes this batch filled set off
the follow-up (pool members' statuses, positives, invalid tubes), so posting the same
results twice, or two overlapping files at once, sets off nothing twice.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from fangyi.core import deadlines
from fangyi.core.access import user_scope_path
from fangyi.core.audit import acting_user, diff, record_change
from fangyi.core.models import Alert, ChangeLog, Duty, Task
from fangyi.core.rules import RuleError, lazy_format
from fangyi.core.timefmt import local_minute
from fangyi.geo.models import Organisation, Place, Region
from fangyi.lab.models import (
    POOL_SIZES,
    Campaign,
    CollectionSite,
    Examinee,
    Purpose,
    Regimen,
    Result,
    ResultImport,
    Round,
    Sample,
    SampleType,
    ScreeningTarget,
    TurnaroundRule,
)
from fangyi.people.models import Person

BARCODE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-")
# Ct values are cycle numbers: a reading outside this range is a typing error.
CT_RANGE = (0.0, 50.0)


class LabRuleError(RuleError):
    """A lab rule refused the action; `sample` is the tube in the way, if any."""

    def __init__(self, message, *, sample: Sample | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.sample = sample


# Collection -------------------------------------------------------------------------------


def normalise_barcode(text: str) -> str:
    """Scanners and people type barcodes with stray spaces and lower case."""
    return "".join(str(text or "").split()).upper()


def check_barcode(barcode: str) -> str:
    barcode = normalise_barcode(barcode)
    if not 4 <= len(barcode) <= 32 or not set(barcode) <= BARCODE_CHARS:
        raise LabRuleError(_("条码应为 4–32 位字母或数字。"), field="barcode", code="bad_barcode")
    return barcode


def turnaround_hours() -> dict[str, int]:
    return dict(TurnaroundRule.objects.values_list("purpose", "hours"))


def due_time(purpose: str, start: datetime, hours: dict[str, int] | None = None) -> datetime:
    """When a result is due: the purpose's limit from receipt (or from collection)."""
    hours = hours if hours is not None else turnaround_hours()
    return start + timedelta(hours=hours.get(purpose, 24))


def round_of(site: CollectionSite | None, moment: datetime) -> Round | None:
    """The round of the site's campaign running at that moment."""
    if site is None:
        return None
    day = timezone.localdate(moment)
    return site.campaign.rounds.filter(start_date__lte=day, end_date__gte=day).first()


def _sample_region(actor, site, organisation, persons, place) -> Region:
    """The jurisdiction a tube belongs to: its place, a single tube's person's grid (so the
    street of a fever-clinic patient sees their tube), a pool's collection site, or where
    the collector works."""
    if place is not None:
        return place.region
    if len(persons) == 1 and persons[0].grid_id and site is None:
        return persons[0].grid
    if site is not None:
        return site.region
    region = getattr(actor, "region", None)
    if region is not None:
        return region
    if organisation is not None and organisation.region_id:
        return organisation.region
    if persons and persons[0].grid_id:
        return persons[0].grid
    raise LabRuleError(_("无法确定采样地区，请选择采样点或送样单位。"), field="site")


@transaction.atomic
def collect_sample(
    actor,
    *,
    barcode: str,
    purpose: str,
    persons: list[Person] = (),
    pool_size: int | None = None,
    sample_type: str = SampleType.OROPHARYNGEAL,
    collected_at: datetime | None = None,
    site: CollectionSite | None = None,
    organisation: Organisation | None = None,
    lab: Organisation | None = None,
    place: Place | None = None,
    object_description: str = "",
) -> Sample:
    """Register a collected tube: one person's, a pooled tube (its members may also be
    scanned in one by one later with `add_to_tube`) or an environmental swab of a place."""
    barcode = check_barcode(barcode)
    persons = list(persons)
    collected_at = collected_at or timezone.now()
    if collected_at > timezone.now() + timedelta(minutes=5):
        raise LabRuleError(_("采样时间不能晚于当前时间。"), field="collected_at")
    if place is not None:
        if persons:
            raise LabRuleError(_("环境样本不关联人员。"), field="persons")
        pool_size, sample_type, purpose = 0, SampleType.ENVIRONMENTAL, Purpose.ENVIRONMENTAL
    else:
        pool_size = pool_size or max(len(persons), 1)
        if pool_size not in POOL_SIZES:
            raise LabRuleError(
                _("混采比例只能是单采、5 合 1 或 10 合 1。"), field="pool_size", code="pool_size"
            )
        if pool_size == 1 and len(persons) != 1:
            raise LabRuleError(_("单采样本须关联一名受检者。"), field="persons")
        if len(persons) > pool_size:
            raise LabRuleError(
                lazy_format(_("该管最多 %(size)d 人。"), size=pool_size), field="persons"
            )
        if len({p.pk for p in persons}) != len(persons):
            raise LabRuleError(_("同一人不能在一管中出现两次。"), field="persons")
    existing = Sample.objects.filter(barcode=barcode).first()
    if existing is not None:
        raise LabRuleError(
            lazy_format(
                _("条码 %(barcode)s 已使用（%(when)s 采样）。"),
                barcode=barcode,
                when=local_minute(existing.collected_at),
            ),
            field="barcode",
            code="barcode_used",
            sample=existing,
        )
    organisation = organisation or (site.organisation if site else None)
    organisation = organisation or getattr(actor, "organisation", None)
    sample = Sample.objects.create(
        barcode=barcode,
        sample_type=sample_type,
        purpose=purpose,
        pool_size=pool_size,
        collected_at=collected_at,
        region=_sample_region(actor, site, organisation, persons, place),
        site=site,
        round=round_of(site, collected_at),
        collecting_organisation=organisation,
        collector=acting_user(actor),
        place=place,
        object_description=object_description.strip(),
        lab=lab,
        due_at=due_time(purpose, collected_at),
    )
    _add_persons(sample, persons)
    return sample


@transaction.atomic
def add_to_tube(actor, sample: Sample, person: Person) -> Examinee:
    """Scan one more person into an open pooled tube."""
    sample = Sample.objects.select_for_update().get(pk=sample.pk)
    if sample.result is not None or sample.received_at is not None:
        raise LabRuleError(_("该管已送检，不能再加人。"), field="barcode", code="tube_closed")
    if sample.place_id is not None:
        raise LabRuleError(_("环境样本不关联人员。"), field="person")
    members = sample.examinees.count()
    if members >= sample.pool_size:
        raise LabRuleError(
            lazy_format(_("该管已满 %(size)d 人，请换新管。"), size=sample.pool_size),
            field="person",
            code="tube_full",
        )
    if sample.examinees.filter(person=person).exists():
        raise LabRuleError(_("此人已在该管中。"), field="person", code="already_in_tube")
    return _add_persons(sample, [person], first_position=members + 1)[0]


def _add_persons(sample: Sample, persons: list[Person], first_position: int = 1) -> list[Examinee]:
    """The members' rows; a round's targets marked tested; a pool-positive member's single
    tube linked as their re-test (closing the re-test duty)."""
    rows = Examinee.objects.bulk_create(
        Examinee(sample=sample, person=p, position=i, collected_at=sample.collected_at)
        for i, p in enumerate(persons, start=first_position)
    )
    ids = [p.pk for p in persons]
    if sample.round_id:
        mark_screened(sample.round, persons, sample.collected_at, sample.site)
    if sample.pool_size == 1 and ids:
        awaiting = Examinee.objects.filter(
            person_id__in=ids, status=Examinee.Status.POOL_POSITIVE, retest__isnull=True
        )
        for member in awaiting:
            deadlines.close_task(member, Duty.POOL_RETEST, done_at=sample.collected_at)
        awaiting.update(retest=sample)
    return rows


def receive_samples(actor, lab: Organisation, barcodes: list[str], at=None) -> int:
    """A lab signs for tubes: the result clock restarts from receipt."""
    at = at or timezone.now()
    hours = turnaround_hours()
    samples = list(
        Sample.objects.filter(
            barcode__in=[normalise_barcode(b) for b in barcodes], received_at__isnull=True
        )
    )
    for sample in samples:
        sample.lab, sample.received_at = lab, at
        sample.due_at = due_time(sample.purpose, at, hours)
    Sample.objects.bulk_update(samples, ["lab", "received_at", "due_at"])
    return len(samples)


# Results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class ResultRow:
    """One result as read from a form, a file line or an API item."""

    line: int
    barcode: str
    result: str
    result_at: datetime
    ct_values: dict[str, float] = field(default_factory=dict)
    method: str = ""
    reviewer: str = ""


@dataclass
class Problem:
    line: int
    column: str
    reason: Promise  # a lazy message, its values in it (lazy_format)

    def as_dict(self) -> dict:
        """As stored with the import: the reason in Chinese and in English."""
        return {
            "line": self.line,
            "column": self.column,
            "reason": _in_language(self.reason, "zh-hans"),
            "reason_en": _in_language(self.reason, "en"),
        }


def _in_language(message: Promise, language: str) -> str:
    with translation.override(language):
        return str(message)


def problem_reason(problem: dict, language: str | None = None) -> str:
    """A stored problem's reason in the language asked for (the active one by default).
    Imports stored before the English was kept have the Chinese only: it goes through the
    catalogue, which knows every reason without values in it."""
    language = language or translation.get_language() or "zh-hans"
    if language.startswith("en"):
        return problem.get("reason_en") or _in_language(_(problem["reason"]), "en")
    return problem["reason"]


class BatchRejected(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} rejected rows")
        self.problems = problems


# Columns of the scratch table a batch is loaded into.
_BATCH_COLUMNS = ("line", "barcode", "result", "result_at", "ct_values", "method", "reviewer")
# Rows of a batch sent to the server at a time (about 1 MiB).
_COPY_CHUNK = 16384


def store_results(
    actor,
    lab: Organisation,
    rows: list[ResultRow],
    *,
    problems: list[Problem] = (),
    source: str = "file",
    file_name: str = "",
    sha256: str = "",
    column_names: dict[str, str] | None = None,
) -> ResultImport:
    """Store a batch of results for a lab, all or nothing.

    `problems` are the rows the reader already refused (bad values); any problem, theirs or
    found here (unknown barcode, result before collection, repeated barcode, a different
    result already stored, a tube sent to another lab), rejects the whole batch with every
    problem listed, its column named by `column_names` (field → the file's heading). Rows
    whose tube already has the same result change nothing."""
    started = time.perf_counter()
    known = list(problems) + _repeats(rows)
    for attempt in range(3):
        try:
            with transaction.atomic():
                log = _log(actor, lab, rows, known, source, file_name, sha256)
                log.save()
                _store(log, rows, known)
                break
        except BatchRejected as rejected:
            log = _log(actor, lab, rows, rejected.problems, source, file_name, sha256)
            log.outcome = ResultImport.Outcome.REJECTED
            names = column_names or {}
            log.problems = [
                dict(p.as_dict(), column=names.get(p.column, p.column))
                for p in sorted(rejected.problems, key=_problem_order)
            ]
            log.rejected = len({p.line for p in rejected.problems})
            break
        except OperationalError as error:
            # Two overlapping batches can lock tubes in opposite orders; PostgreSQL aborts one,
            # which tries again and then finds the other's results stored.
            if attempt == 2 or "deadlock" not in str(error).lower():
                raise
    log.seconds = round(time.perf_counter() - started, 3)
    log.save()
    return log


def _problem_order(problem: Problem):
    return (problem.line, problem.column)


def _log(actor, lab, rows, problems, source, file_name, sha256) -> ResultImport:
    return ResultImport(
        lab=lab,
        region=lab.region,
        source=source,
        file_name=file_name[:255],
        sha256=sha256,
        rows=len({r.line for r in rows} | {p.line for p in problems}),
        uploaded_by=acting_user(actor),
        outcome=ResultImport.Outcome.SAVED,
    )


def _repeats(rows: list[ResultRow]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for row in rows:
        line = first.setdefault(row.barcode, row.line)
        if line != row.line:
            problems.append(
                Problem(
                    row.line,
                    "barcode",
                    lazy_format(_("条码与第 %(line)d 行重复"), line=line),
                )
            )
    return problems


def _store(log: ResultImport, rows: list[ResultRow], problems: list[Problem]) -> None:
    with connection.cursor() as cursor:
        _load_batch(cursor, rows)
        problems = problems + _check_batch(cursor, log.lab_id)
        if problems:
            raise BatchRejected(problems)
        now = timezone.now()
        # The tubes are rewritten in their table's order, not the file's: a file in random
        # order otherwise reads, dirties and evicts every heap and index page many times
        # over (bench/README.md, lab_import: the UPDATE 34.6 s → 19.1 s for a million).
        cursor.execute(
            """
            UPDATE lab_sample SET
                result = b.result, result_at = b.result_at, ct_values = b.ct_values,
                method = b.method, reviewer = b.reviewer, recorded_at = %s,
                resulted_by_id = %s, result_import_id = %s, lab_id = %s
            FROM (
                SELECT s.id AS sample_id, b.* FROM lab_batch b
                JOIN lab_sample s ON s.barcode = b.barcode AND s.result IS NULL
                ORDER BY s.id
            ) b
            WHERE lab_sample.id = b.sample_id AND lab_sample.result IS NULL
            """,
            [now, log.uploaded_by_id, log.pk, log.lab_id],
        )
        log.stored = cursor.rowcount
        # Rows another batch filled meanwhile (after the check above): the same result is
        # fine, a different one is not. When every row was stored there are none.
        if log.stored < len(rows) and (problems := _conflicts(cursor)):
            raise BatchRejected(problems)
        notable_ids = _notable_tubes(cursor, log)
    log.unchanged = len(rows) - log.stored
    log.positives = _follow_up(log, notable_ids)


def _load_batch(cursor, rows: list[ResultRow]) -> None:
    """The batch in a scratch table that lives as long as the transaction."""
    if connection.vendor == "postgresql":
        # Dropped first: an enclosing transaction (a test, a caller's atomic) may still hold
        # the previous batch's table.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.lab_batch")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE lab_batch (
                line integer, barcode varchar(32), result varchar(16),
                result_at timestamptz, ct_values jsonb, method varchar(16), reviewer varchar(64)
            ) ON COMMIT DROP
            """
        )
        # Sent in chunks as they are written, so that the server parses one chunk while the
        # next is written. A file's rows share few distinct times (a plate's results carry
        # one): each is written out once.
        buffer = io.StringIO()
        write = csv.writer(buffer).writerow
        times: dict[datetime, str] = {}
        with cursor.cursor.copy(
            f"COPY lab_batch ({', '.join(_BATCH_COLUMNS)}) FROM STDIN"
            " WITH (FORMAT csv, FORCE_NOT_NULL (method, reviewer))"
        ) as copy:
            for start in range(0, len(rows), _COPY_CHUNK):
                for r in rows[start : start + _COPY_CHUNK]:
                    at = times.get(r.result_at)
                    if at is None:
                        at = times[r.result_at] = r.result_at.isoformat()
                    ct = _ct_json(r.ct_values)
                    write((r.line, r.barcode, r.result, at, ct, r.method, r.reviewer))
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        # No index: a large batch is hash-joined to the tubes, a small one looked up by the
        # tubes' barcode index; the statistics choose between the two.
        cursor.execute("ANALYZE lab_batch")
    else:
        cursor.execute("DROP TABLE IF EXISTS temp.lab_batch")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE lab_batch (
                line integer, barcode text, result text, result_at text, ct_values text,
                method text, reviewer text
            )
            """
        )
        cursor.executemany(
            "INSERT INTO lab_batch VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    r.line,
                    r.barcode,
                    r.result,
                    _sqlite_time(r.result_at),
                    _ct_json(r.ct_values),
                    r.method,
                    r.reviewer,
                )
                for r in rows
            ],
        )
        cursor.execute("CREATE INDEX temp.lab_batch_barcode ON lab_batch (barcode)")


def _sqlite_time(moment: datetime) -> str:
    # Django stores SQLite datetimes as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    return connection.ops.adapt_datetimefield_value(moment)


def _ct_json(values: dict[str, float]) -> str:
    import json

    return json.dumps(values, ensure_ascii=False, sort_keys=True) if values else "{}"


def _check_batch(cursor, lab_id: int) -> list[Problem]:
    """Unknown barcodes, results before collection, tubes sent to another lab, and tubes
    that already hold a different result: one query, problems only."""
    cursor.execute(
        """
        SELECT b.line, s.id, s.collected_at > b.result_at, s.lab_id, s.result, b.result
        FROM lab_batch b LEFT JOIN lab_sample s ON s.barcode = b.barcode
        WHERE s.id IS NULL OR s.collected_at > b.result_at
           OR (s.lab_id IS NOT NULL AND s.lab_id <> %s)
           OR (s.result IS NOT NULL AND s.result <> b.result)
        ORDER BY b.line
        """,
        [lab_id],
    )
    problems = []
    for line, sample_id, before, other_lab, stored, result in cursor.fetchall():
        if sample_id is None:
            problems.append(Problem(line, "barcode", _("条码不存在（未登记采样）")))
            continue
        if before:
            problems.append(Problem(line, "result_at", _("结果时间早于采样时间")))
        if other_lab is not None and other_lab != lab_id:
            problems.append(Problem(line, "barcode", _("该样本送检的是其他实验室")))
        if stored is not None and stored != result:
            problems.append(_conflict(line, stored))
    return problems


def _conflict(line: int, stored: str) -> Problem:
    return Problem(
        line,
        "result",
        lazy_format(_("与已入库结果（%(stored)s）不一致"), stored=Result(stored).label),
    )


def _conflicts(cursor) -> list[Problem]:
    cursor.execute(
        """
        SELECT b.line, s.result FROM lab_batch b JOIN lab_sample s ON s.barcode = b.barcode
        WHERE s.result <> b.result ORDER BY b.line
        """
    )
    return [_conflict(line, stored) for line, stored in cursor.fetchall()]


def _notable_tubes(cursor, log: ResultImport) -> list[int]:
    """Ids of the tubes this batch filled with anything but a negative: the few that set
    something off, found from the batch (the tubes have no index on their result, which every
    tube of a batch would otherwise write again)."""
    cursor.execute(
        """
        SELECT s.id FROM lab_batch b JOIN lab_sample s ON s.barcode = b.barcode
        WHERE b.result <> %s AND s.result_import_id = %s
        """,
        [Result.NEGATIVE, log.pk],
    )
    return [pk for (pk,) in cursor.fetchall()]


def _follow_up(log: ResultImport, notable_ids: list[int]) -> int:
    """What the tubes this batch filled set off; returns how many were positive."""
    notable = Sample.objects.filter(pk__in=notable_ids)
    _set_member_statuses(log, notable)
    # Late-result duties are few: look them up and keep those of this batch's tubes.
    late = dict(
        Task.objects.filter(
            duty=Duty.RESULT_SAMPLE,
            content_type=ContentType.objects.get_for_model(Sample),
            status=Task.Status.OPEN,
        ).values_list("object_id", "pk")
    )
    if late:
        answered = Sample.objects.filter(pk__in=list(late), result_import=log).values_list(
            "pk", flat=True
        )
        Task.objects.filter(pk__in=[late[pk] for pk in answered]).update(
            status=Task.Status.DONE, done_at=timezone.now()
        )
    invalid = list(
        notable.filter(result=Result.INVALID).select_related("region", "collecting_organisation")
    )
    Task.objects.bulk_create(
        deadlines.new_task(
            Duty.RESAMPLE,
            sample,
            region=sample.region,
            started_at=sample.result_at,
            organisation=sample.collecting_organisation,
            label=f"{sample.barcode}（{sample.get_purpose_display()}）",
        )
        for sample in invalid
    )
    _fill_measure_tests(log.uploaded_by, log)
    positives = list(notable.filter(result=Result.POSITIVE).select_related("region", "place"))
    for sample in positives:
        if sample.place_id is not None:
            _environment_positive(sample)
        elif sample.pool_size > 1:
            _pool_positive(log.uploaded_by, sample)
        else:
            _single_positive(log.uploaded_by, sample)
    return len(positives)


def _set_member_statuses(log: ResultImport, notable) -> None:
    """Members whose outcome is not the tube's negative (Examinee docstring): positive and
    invalid tubes' members, and pool members whose single re-test has come back. Every query
    starts from the few rows concerned, never from the batch's million."""
    tubes = {
        Examinee.Status.POSITIVE: notable.filter(result=Result.POSITIVE, pool_size=1),
        Examinee.Status.POOL_POSITIVE: notable.filter(result=Result.POSITIVE, pool_size__gt=1),
        Examinee.Status.INVALID: notable.filter(result=Result.INVALID),
    }
    for status, samples in tubes.items():
        ids = list(samples.values_list("pk", flat=True))
        if ids:
            Examinee.objects.filter(sample_id__in=ids).update(status=status)
    awaiting = dict(
        Examinee.objects.filter(
            status=Examinee.Status.POOL_POSITIVE, retest__isnull=False
        ).values_list("pk", "retest_id")
    )
    if not awaiting:
        return
    results = dict(
        Sample.objects.filter(pk__in=set(awaiting.values()), result_import=log).values_list(
            "pk", "result"
        )
    )
    for result, status in (
        (Result.NEGATIVE, Examinee.Status.NEGATIVE),
        (Result.POSITIVE, Examinee.Status.POSITIVE),
    ):
        members = [pk for pk, retest in awaiting.items() if results.get(retest) == result]
        Examinee.objects.filter(pk__in=members).update(status=status)


def _fill_measure_tests(actor, log: ResultImport) -> None:
    """A person under control tested on one of their course's test days: the lab's result
    is that test's result (a positive pool says nothing about one person yet)."""
    from fangyi.measures.models import Measure, MeasureTest
    from fangyi.measures.services import record_test_result

    planned = list(
        MeasureTest.objects.filter(
            result="",
            kind=MeasureTest.Kind.PERSON,
            measure__status=Measure.Status.ACTIVE,
            due_date__lte=timezone.localdate(),
        ).select_related("measure")
    )
    if not planned:
        return
    # From the persons under control (hundreds) to their tubes in this batch, not back.
    settled = Examinee.objects.filter(sample__result_import=log).filter(
        Q(status=Examinee.Status.POSITIVE)
        | Q(status=Examinee.Status.PENDING, sample__result=Result.NEGATIVE)
    )
    by_person = defaultdict(list)
    for examinee in settled.filter(
        person__in=[t.measure.person_id for t in planned]
    ).select_related("sample"):
        by_person[examinee.person_id].append(examinee)
    for test in planned:
        for examinee in by_person[test.measure.person_id]:
            sample = examinee.sample
            if timezone.localdate(sample.collected_at) == test.due_date:
                record_test_result(
                    actor,
                    test,
                    result=examinee.outcome,
                    sampled_at=sample.collected_at,
                    result_at=sample.result_at,
                )
                break


# Who hears of a positive at once besides the unit that sent the tube (seed 001: the sending
# unit and the county health administration; the CDC responds).
POSITIVE_RECIPIENTS = (Organisation.Type.HEALTH_COMMISSION, Organisation.Type.CDC)


def _feed_back_positive(region: Region, message: str, *units: Organisation | None) -> None:
    """One alert each for the given units and the region's health administration and CDC."""
    units += tuple(Organisation.objects.nearest(kind, region) for kind in POSITIVE_RECIPIENTS)
    seen = set()
    alerts = []
    for unit in units:
        if unit is None or unit.pk in seen:
            continue
        seen.add(unit.pk)
        alerts.append(Alert(region=region, organisation=unit, message=message[:255]))
    Alert.objects.bulk_create(alerts)


def _single_positive(actor, sample: Sample) -> None:
    """Feed back at once to the sending unit and the health administration, and open a
    suspected-case draft with the result linked and the 2-hour report duty."""
    from fangyi.cases.services import create_case
    from fangyi.diseases.models import Classification, Disease

    member = sample.examinees.select_related("person__grid").first()
    if member is None:
        return
    person = member.person
    region = person.grid or sample.region
    _feed_back_positive(
        region,
        f"核酸阳性（立即反馈）：{person.name} 样本{sample.barcode}，"
        f"{sample.get_purpose_display()}，{local_minute(sample.result_at)}",
        sample.collecting_organisation,
    )
    if person.grid_id is None:
        return
    case = create_case(
        actor,
        {
            "person": person,
            "disease": Disease.objects.get(code="covid19"),
            "classification": Classification.SUSPECTED,
            "diagnosed_at": sample.result_at,
            "address_at_onset": person.address,
            "reporting_organisation": sample.collecting_organisation,
            "remark": f"核酸检测阳性：样本{sample.barcode}，{local_minute(sample.result_at)}"
            + (f"，Ct {_ct_text(sample.ct_values)}" if sample.ct_values else ""),
        },
        report_hours=deadlines.rule_hours(Duty.REPORT_POSITIVE),
    )
    Sample.objects.filter(pk=sample.pk).update(case=case)


def _ct_text(values: dict) -> str:
    return " ".join(f"{gene} {value}" for gene, value in sorted(values.items()))


def _pool_positive(actor, sample: Sample) -> None:
    """Every member under control at once, each with a single-tube re-test duty."""
    from fangyi.measures.models import Category
    from fangyi.measures.services import MeasureRuleError, place_under_control, responsible_unit

    members = list(sample.examinees.select_related("person__grid"))
    tasks = []
    for member in members:
        person = member.person
        if person.grid_id is None:
            continue
        with contextlib.suppress(MeasureRuleError):  # already under a measure at least as strict
            place_under_control(
                actor,
                person,
                category=Category.POOL_POSITIVE,
                start_date=timezone.localdate(sample.result_at),
                reason=f"混采管{sample.barcode}阳性",
            )
        tasks.append(
            deadlines.new_task(
                Duty.POOL_RETEST,
                member,
                region=person.grid,
                started_at=sample.result_at,
                organisation=responsible_unit(person.grid, None),
                label=f"{person.name}（混采管{sample.barcode}）",
            )
        )
    Task.objects.bulk_create(tasks)
    _feed_back_positive(
        sample.region,
        f"混采阳性：管{sample.barcode}（{len(members)}人）已落实管控，待单管复核",
        sample.collecting_organisation,
    )


def _environment_positive(sample: Sample) -> None:
    place = sample.place
    _feed_back_positive(
        place.region,
        f"环境样本阳性：{place.name} {sample.object_description}（样本{sample.barcode}）",
        Organisation.objects.nearest(Organisation.Type.STREET_OFFICE, place.region),
    )


def record_result(actor, sample: Sample, **values) -> ResultImport:
    """One result typed on the sample's page: the same path as a file of one row."""
    row = ResultRow(line=1, barcode=sample.barcode, **values)
    lab = sample.lab or getattr(actor, "organisation", None)
    if lab is None:
        raise LabRuleError(_("请先确定检测实验室。"), field="lab")
    log = store_results(actor, lab, [row], source="form")
    if log.outcome == ResultImport.Outcome.REJECTED:
        problem = log.problems[0]
        raise LabRuleError(problem_reason(problem), field=problem["column"], code="rejected")
    return log


# Turnaround -------------------------------------------------------------------------------


def open_late_result_tasks(now: datetime | None = None) -> int:
    """A duty for the lab of every tube past its result time without one (idempotent)."""
    now = now or timezone.now()
    kind = ContentType.objects.get_for_model(Sample)
    late = (
        Sample.objects.late(now)
        .exclude(
            pk__in=Task.objects.filter(content_type=kind, duty=Duty.RESULT_SAMPLE).values(
                "object_id"
            )
        )
        .select_related("region")
    )
    tasks = [
        Task(
            duty=Duty.RESULT_SAMPLE,
            content_type=kind,
            object_id=sample.pk,
            subject_label=f"{sample.barcode}（{sample.get_purpose_display()}）",
            region=sample.region,
            responsible_organisation_id=sample.lab_id or sample.collecting_organisation_id,
            started_at=sample.received_at or sample.collected_at,
            due_at=sample.due_at,
        )
        for sample in late.iterator(chunk_size=2000)
    ]
    Task.objects.bulk_create(tasks, batch_size=2000)
    return len(tasks)


# Mass screening ---------------------------------------------------------------------------


@transaction.atomic
def create_campaign(
    actor, *, name: str, region: Region, start_date: date, end_date: date, pool_size: int = 10
) -> Campaign:
    if end_date < start_date:
        raise LabRuleError(_("结束日期不能早于开始日期。"), field="end_date")
    campaign = Campaign.objects.create(
        name=name.strip(),
        region=region,
        start_date=start_date,
        end_date=end_date,
        pool_size=pool_size,
        created_by=acting_user(actor),
    )
    record_change(
        actor,
        campaign,
        ChangeLog.Action.CREATE,
        diff({}, {"name": campaign.name, "region": region.name}),
        region=region,
    )
    return campaign


@transaction.atomic
def open_round(actor, campaign: Campaign, *, start_date: date, end_date: date) -> Round:
    """A new round with its expected population: everyone registered in the area now."""
    if end_date < start_date:
        raise LabRuleError(_("结束日期不能早于开始日期。"), field="end_date")
    overlapping = campaign.rounds.filter(start_date__lte=end_date, end_date__gte=start_date)
    if overlapping.exists():
        raise LabRuleError(_("与已有轮次的日期重叠。"), field="start_date", code="overlap")
    number = (campaign.rounds.aggregate(n=Max("number"))["n"] or 0) + 1
    round_ = Round.objects.create(
        campaign=campaign, number=number, start_date=start_date, end_date=end_date
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO lab_screeningtarget
                (round_id, person_id, grid_id, status, expected, exempt_reason, exempt_note)
            SELECT %s, p.id, p.grid_id, %s, %s, '', ''
            FROM people_person p JOIN geo_region g ON g.id = p.grid_id
            WHERE g.path LIKE %s
            """,
            [round_.pk, ScreeningTarget.Status.UNTESTED, True, campaign.region.path + "%"],
        )
        round_.expected = cursor.rowcount
    round_.save(update_fields=["expected"])
    return round_


def mark_screened(round_: Round, persons: list[Person], at: datetime, site=None) -> None:
    """Persons tested in a round: their targets become tested; someone tested here but
    registered elsewhere is added as found (not expected)."""
    ids = [p.pk for p in persons]
    targets = ScreeningTarget.objects.filter(round=round_, person_id__in=ids)
    targets.exclude(status=ScreeningTarget.Status.TESTED).update(
        status=ScreeningTarget.Status.TESTED, tested_at=at, site=site, exempt_reason=""
    )
    known = set(targets.values_list("person_id", flat=True))
    ScreeningTarget.objects.bulk_create(
        ScreeningTarget(
            round=round_,
            person=p,
            grid_id=p.grid_id,
            status=ScreeningTarget.Status.TESTED,
            expected=False,
            tested_at=at,
            site=site,
        )
        for p in persons
        if p.pk not in known and p.grid_id is not None
    )


@transaction.atomic
def exempt(actor, target: ScreeningTarget, *, reason: str, note: str = "") -> ScreeningTarget:
    if target.status == ScreeningTarget.Status.TESTED:
        raise LabRuleError(_("此人本轮已检测，无需免检。"), field="reason")
    if reason == ScreeningTarget.ExemptReason.OTHER and not note.strip():
        raise LabRuleError(_("选择“其他”时请填写说明。"), field="note")
    target.status = ScreeningTarget.Status.EXEMPT
    target.exempt_reason, target.exempt_note = reason, note.strip()
    target.save(update_fields=["status", "exempt_reason", "exempt_note"])
    record_change(
        actor,
        target,
        ChangeLog.Action.UPDATE,
        {"status": ["未检", f"免检：{target.get_exempt_reason_display()} {target.exempt_note}"]},
        region=target.grid,
    )
    return target


@dataclass
class Coverage:
    key: int | None
    name: str
    expected: int = 0
    tested: int = 0
    exempt: int = 0
    found: int = 0  # tested here but registered elsewhere

    @property
    def untested(self) -> int:
        return self.expected - self.tested - self.exempt

    @property
    def rate(self) -> float:
        return (self.tested + self.exempt) / self.expected if self.expected else 1.0


def coverage_by_grid(round_: Round, user) -> list[Coverage]:
    """Expected, tested, exempted and untested per grid in the user's scope: one grouped
    count over the round's targets (index round, grid, status)."""
    scope = {}
    if user_scope_path(user) != "":
        # The scope as its region ids: no join of a million targets with their regions.
        scope["grid_id__in"] = list(Region.objects.visible_to(user).values_list("id", flat=True))
    counts = (
        ScreeningTarget.objects.filter(round=round_, **scope)
        .values("grid_id", "status", "expected")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows: dict[int, Coverage] = {}
    for item in counts:
        row = rows.setdefault(item["grid_id"], Coverage(item["grid_id"], ""))
        if item["expected"]:
            row.expected += item["n"]
            if item["status"] == ScreeningTarget.Status.TESTED:
                row.tested += item["n"]
            elif item["status"] == ScreeningTarget.Status.EXEMPT:
                row.exempt += item["n"]
        else:
            row.found += item["n"]
    names = dict(Region.objects.filter(pk__in=rows).values_list("pk", "name"))
    for key, row in rows.items():
        row.name = names.get(key, "")
    return sorted(rows.values(), key=lambda r: (r.rate, r.name))


# Regimens ---------------------------------------------------------------------------------


def regimen_population(regimen: Regimen):
    if regimen.key_group_id:
        return Person.objects.filter(key_groups=regimen.key_group_id)
    from fangyi.measures.models import Measure

    return Person.objects.filter(
        measures__category=regimen.measure_category, measures__status=Measure.Status.ACTIVE
    )


def overdue(regimen: Regimen, user, today: date | None = None):
    """Persons of the regimen in the user's scope whose last tube is older than its interval
    (or who have none), with `last_tested` annotated."""
    today = today or timezone.localdate()
    cutoff = today - timedelta(days=regimen.every_days - 1)
    start = timezone.make_aware(datetime.combine(cutoff, datetime.min.time()))
    population = regimen_population(regimen).visible_to(user)
    return (
        population.annotate(last_tested=Max("examinations__collected_at"))
        .filter(Q(last_tested__isnull=True) | Q(last_tested__lt=start))
        .distinct()
        .select_related("grid")
        .order_by("workplace", "grid__name", "id")
    )


def overdue_counts(user, today: date | None = None) -> dict[int, int]:
    """Regimen id → how many of its people are overdue in the user's scope."""
    return {
        regimen.pk: overdue(regimen, user, today).count()
        for regimen in Regimen.objects.filter(active=True)
    }
