"""Clusters (connected components of links and shared places), chains, and their pages."""

import json
import re
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangyi.cases.models import CaseReport
from fangyi.cases.services import create_case, delete_case
from fangyi.diseases.models import Disease
from fangyi.geo.models import Place, Region
from fangyi.people.models import Person
from fangyi.tracing import clusters
from fangyi.tracing.models import CaseLink, Cluster, Contact, Investigation, TrajectoryEntry

ONSET = date(2026, 3, 1)


@pytest.fixture
def report(users):
    """report("grid_a1", onset_day=0) → a submitted confirmed covid19 case of a person in
    that user's jurisdiction (a different person each time)."""
    covid = Disease.objects.get(code="covid19")
    used: set[int] = set()

    def make(username="grid_a1", onset_day=0, **data) -> CaseReport:
        person = (
            Person.objects.visible_to(users[username]).exclude(pk__in=used).order_by("pk").first()
        )
        used.add(person.pk)
        onset = ONSET + timedelta(days=onset_day)
        diagnosed = timezone.make_aware(
            datetime.combine(onset + timedelta(days=1), datetime.min.time())
        )
        fields = {
            "person": person,
            "disease": covid,
            "classification": "confirmed",
            "onset_date": onset,
            "diagnosed_at": diagnosed + timedelta(hours=10),
        }
        return create_case(users["cdc_epi"], fields | data, submit=True)

    return make


def link(infector: CaseReport, infectee: CaseReport) -> CaseLink:
    created = CaseLink.objects.create(infector=infector, infectee=infectee)
    clusters.on_link_added(created)
    return created


def visit(case: CaseReport, place: Place, start: str, end: str) -> TrajectoryEntry:
    investigation, _ = Investigation.objects.get_or_create(
        case=case, defaults={"region": case.region}
    )
    return TrajectoryEntry.objects.create(
        investigation=investigation,
        place=place,
        start=timezone.make_aware(datetime.fromisoformat(start)),
        end=timezone.make_aware(datetime.fromisoformat(end)),
    )


def cluster_of(case: CaseReport) -> int | None:
    return CaseReport.objects.values_list("cluster_id", flat=True).get(pk=case.pk)


def partition() -> dict[int, set[int]]:
    """Cluster id → ids of its cases."""
    groups: dict[int, set[int]] = {}
    for pk, cluster_id in CaseReport.objects.filter(cluster__isnull=False).values_list(
        "pk", "cluster_id"
    ):
        groups.setdefault(cluster_id, set()).add(pk)
    return groups


def cluster_rows() -> list[tuple]:
    return list(
        Cluster.objects.order_by("pk").values_list(
            "pk", "name", "region_id", "size", "generations", "first_onset", "last_onset"
        )
    )


# ---------------------------------------------------------------------------------------------
# Partition
# ---------------------------------------------------------------------------------------------


def test_linked_cases_form_one_cluster_and_a_lone_case_none(report):
    a, b, c, alone = report(onset_day=0), report(onset_day=3), report(onset_day=7), report()
    CaseLink.objects.create(infector=a, infectee=b)
    CaseLink.objects.create(infector=b, infectee=c)

    assert clusters.recompute_all() == 1

    cluster = Cluster.objects.get()
    assert partition() == {cluster.pk: {a.pk, b.pk, c.pk}}
    assert cluster_of(alone) is None
    assert (cluster.size, cluster.generations) == (3, 3)
    assert (cluster.first_onset, cluster.last_onset) == (ONSET, ONSET + timedelta(days=7))
    assert cluster.region == a.region  # all three in grid_a1's grid
    assert cluster.name == f"{a.region.name}聚集性疫情（2026-03-01）"


def test_generations_follow_the_longest_chain_and_onset_falls_back_to_diagnosis(report):
    root = report(onset_day=2)
    left, right = report(onset_day=5), report(onset_day=6, onset_date=None)
    deep = report(onset_day=9)
    for infector, infectee in [(root, left), (root, right), (right, deep), (left, deep)]:
        CaseLink.objects.create(infector=infector, infectee=infectee)

    clusters.recompute_all()

    cluster = Cluster.objects.get()
    assert cluster.generations == 3
    # right has no onset: its diagnosis day (onset_day + 1) counts.
    assert (cluster.first_onset, cluster.last_onset) == (ONSET + timedelta(2), ONSET + timedelta(9))


def test_recompute_keeps_ids_the_larger_cluster_absorbs_and_a_split_keeps_the_larger_part(
    report,
):
    big = [report(onset_day=d) for d in range(4)]
    small = [report(onset_day=d) for d in range(2)]
    for x, y in zip(big, big[1:], strict=False):
        CaseLink.objects.create(infector=x, infectee=y)
    small_link = CaseLink.objects.create(infector=small[0], infectee=small[1])
    clusters.recompute_all()
    big_id, small_id = cluster_of(big[0]), cluster_of(small[0])
    assert big_id != small_id

    clusters.recompute_all()
    assert (cluster_of(big[0]), cluster_of(small[0])) == (big_id, small_id)

    bridge = CaseLink.objects.create(infector=big[3], infectee=small[0])
    clusters.recompute_all()
    assert partition() == {big_id: {c.pk for c in big + small}}
    assert not Cluster.objects.filter(pk=small_id).exists()

    bridge.delete()
    small_link.delete()
    clusters.recompute_all()
    assert partition() == {big_id: {c.pk for c in big}}


def test_cases_at_one_place_at_overlapping_times_join_without_a_generation(report):
    place = Place.objects.order_by("pk").first()
    a, b, c, later = report(), report(), report(), report()
    visit(a, place, "2026-02-27 09:00", "2026-02-27 11:00")
    visit(b, place, "2026-02-27 10:30", "2026-02-27 12:00")
    visit(c, place, "2026-02-27 11:45", "2026-02-27 13:00")  # overlaps b only
    visit(later, place, "2026-02-27 13:30", "2026-02-27 14:00")

    clusters.recompute_all()

    cluster = Cluster.objects.get()
    assert partition() == {cluster.pk: {a.pk, b.pk, c.pk}}
    assert (cluster.size, cluster.generations) == (3, 1)

    clusters.recompute_all(gap=timedelta(minutes=30))
    assert partition() == {cluster.pk: {a.pk, b.pk, c.pk, later.pk}}


def test_a_shared_place_joins_only_cases_of_the_same_disease(report):
    place = Place.objects.order_by("pk").first()
    other_disease = next(
        d
        for d in Disease.objects.exclude(code="covid19")
        if "confirmed" in d.allowed_classifications
    )
    a = report()
    b = report(disease=other_disease)
    visit(a, place, "2026-02-27 09:00", "2026-02-27 11:00")
    visit(b, place, "2026-02-27 10:00", "2026-02-27 12:00")

    assert clusters.recompute_all() == 0
    assert clusters.cases_sharing_places(a) == []


def test_deleted_cases_are_left_out(users, report):
    a, b, c = report(onset_day=0), report(onset_day=3), report(onset_day=6)
    link(a, b)
    link(b, c)
    cluster_id = cluster_of(a)

    delete_case(users["cdc_reviewer"], b, "误报")
    clusters.recompute_all()

    assert partition() == {}
    assert not Cluster.objects.filter(pk=cluster_id).exists()
    assert cluster_of(b) is None


def test_incremental_updates_give_the_full_recompute(report):
    place = Place.objects.order_by("pk").first()
    cases = [report(onset_day=day) for day in (0, 2, 4, 5, 6, 8, 9, 11)]
    a, b, c, d, e, f, g, h = cases
    link(a, b)
    link(c, d)
    link(d, e)  # {a, b}, {c, d, e}
    link(b, c)  # merge: the larger {c, d, e} absorbs {a, b}
    link(f, g)  # {f, g}
    visit(g, place, "2026-03-10 08:00", "2026-03-10 09:00")
    visit(h, place, "2026-03-10 08:30", "2026-03-10 10:00")
    assert clusters.cases_sharing_places(h) == [g.pk]
    clusters.on_trajectory_recorded(h)  # h joins {f, g}
    link(e, f)  # {a..e} absorbs {f, g, h}
    link(a, e)  # within one cluster: only the generations change
    incremental = (partition(), cluster_rows())
    assert len(incremental[0]) == 1

    clusters.recompute_all()

    assert (partition(), cluster_rows()) == incremental
    cluster = Cluster.objects.get()
    assert (cluster.size, cluster.generations) == (8, 7)  # a b c d e f g (h: shared place)


def test_incremental_merge_keeps_the_older_cluster_on_a_tie_as_the_recompute_does(report):
    a, b, c, d = (report(onset_day=day) for day in range(4))
    link(a, b)
    link(c, d)
    older = cluster_of(a)
    link(b, c)
    assert partition() == {older: {a.pk, b.pk, c.pk, d.pk}}


def test_region_is_the_lowest_region_holding_all_cases(users, report):
    street = users["street_a"].region
    grid_a = users["grid_a1"].region
    other_village_grid = (
        Region.objects.filter(level=Region.Level.GRID, path__startswith=street.path)
        .exclude(path__startswith=grid_a.parent.path)
        .order_by("path")
        .first()
    )
    person = Person.objects.filter(grid=other_village_grid).order_by("pk").first()
    a = report("grid_a1")
    b = report("street_a", person=person)
    link(a, b)
    assert Cluster.objects.get().region == street
    assert clusters.common_region_path([grid_a.path, grid_a.parent.path]) == grid_a.parent.path


# ---------------------------------------------------------------------------------------------
# Chain
# ---------------------------------------------------------------------------------------------


def add_contacts(case: CaseReport, users, *, second_degree: int = 0) -> list[Contact]:
    persons = Person.objects.filter(grid=case.region).exclude(cases__isnull=False).order_by("pk")
    close = Contact.objects.create(
        person=persons[0],
        case=case,
        region=case.region,
        setting=Contact.Setting.HOUSEHOLD,
        last_exposure_at=timezone.now(),
    )
    others = [
        Contact.objects.create(
            person=persons[1 + i],
            source_contact=close,
            region=case.region,
            setting=Contact.Setting.WORKPLACE,
            last_exposure_at=timezone.now(),
        )
        for i in range(second_degree)
    ]
    return [close, *others]


def test_chain_of_holds_cases_within_two_links_and_their_contacts(users, report):
    a, b, c, d, e = (report(onset_day=day) for day in (0, 3, 6, 9, 12))
    for x, y in [(a, b), (b, c), (c, d), (d, e)]:
        link(x, y)
    close, second = add_contacts(a, users, second_degree=1)
    far = add_contacts(e, users)[0]

    graph = clusters.chain_of(c)

    assert {n.pk for n in graph.cases()} == {a.pk, b.pk, c.pk, d.pk, e.pk}
    assert {n.pk: n.generation for n in graph.cases()} == {
        a.pk: 1,
        b.pk: 2,
        c.pk: 3,
        d.pk: 4,
        e.pk: 5,
    }
    assert {(n.pk, n.degree) for n in graph.contacts()} == {
        (close.pk, 1),
        (second.pk, 2),
        (far.pk, 1),
    }
    assert set(graph.edges) >= {
        (("case", b.pk), ("case", c.pk), "transmission"),
        (("case", a.pk), ("contact", close.pk), "exposure"),
        (("contact", close.pk), ("contact", second.pk), "exposure"),
    }

    near = clusters.chain_of(a)
    assert {n.pk for n in near.cases()} == {a.pk, b.pk, c.pk}
    assert {n.pk for n in near.contacts()} == {close.pk, second.pk}
    # Generations count from the cluster's first case even seen from further down.
    assert {n.pk: n.generation for n in clusters.chain_of(e).cases()} == {c.pk: 3, d.pk: 4, e.pk: 5}


def test_chain_queries_do_not_grow_with_the_cases(report, users):
    def queries(length: int) -> int:
        cases = [report(onset_day=day) for day in range(length)]
        for x, y in zip(cases, cases[1:], strict=False):
            link(x, y)
            add_contacts(x, users, second_degree=2)
        with CaptureQueriesContext(connection) as captured:
            clusters.chain_of(cases[len(cases) // 2])
        return len(captured)

    assert queries(3) == queries(6)


def test_contacts_past_the_limit_are_counted_not_drawn(users, report):
    a = report()
    add_contacts(a, users, second_degree=3)
    graph = clusters.chain_of(a, contact_limit=2)
    assert (graph.contacts_shown, graph.contacts_total) == (2, 4)
    assert len(graph.contacts()) == 2


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def graph_data(page: str) -> dict:
    found = re.search(r'<script id="graph-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def inline_scripts(page: str) -> list[str]:
    tags = re.findall(r"<script\b[^>]*>", page)
    return [t for t in tags if "src=" not in t and 'type="application/json"' not in t]


def test_grid_worker_cannot_see_another_grids_cluster(users, client_for, report):
    a, b = report("grid_a1"), report("grid_a1")
    link(a, b)
    cluster = Cluster.objects.get()

    assert cluster.name in client_for("grid_a1").get("/tracing/clusters/").content.decode()
    assert cluster.name in client_for("county_admin").get("/tracing/clusters/").content.decode()
    assert cluster.name not in client_for("grid_b1").get("/tracing/clusters/").content.decode()
    assert client_for("grid_b1").get(f"/tracing/clusters/{cluster.pk}/").status_code == 404
    assert client_for("grid_b1").get(f"/tracing/cases/{a.pk}/chain/").status_code == 404
    assert client_for("grid_a1").get(f"/tracing/clusters/{cluster.pk}/").status_code == 200


def test_cluster_list_sorts_by_size_in_a_fixed_number_of_queries(client_for, report):
    def list_queries() -> tuple[int, list[str]]:
        client = client_for("county_admin")
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/tracing/clusters/").content.decode()
        return len(captured), re.findall(r'href="/tracing/clusters/(\d+)/"', page)

    a, b = report(), report()
    link(a, b)
    few, _ = list_queries()
    chain = [report(onset_day=d) for d in range(3)]
    link(chain[0], chain[1])
    link(chain[1], chain[2])
    many, order = list_queries()
    assert few == many
    assert order == [str(cluster_of(chain[0])), str(cluster_of(a))]


def test_graph_page_gives_the_data_by_json_script_and_has_no_inline_script(
    client_for, report, users
):
    a, b = report(onset_day=0), report(onset_day=4)
    link(a, b)
    add_contacts(a, users, second_degree=1)
    page = client_for("grid_a1").get(f"/tracing/clusters/{cluster_of(a)}/").content.decode()

    assert inline_scripts(page) == []
    assert "fangyi/cluster_graph.js" in page and "vendor/echarts/echarts.min.js" in page
    data = graph_data(page)
    names = {n["name"] for n in data["nodes"]}
    assert {a.person.name, b.person.name} <= names
    assert len(data["nodes"]) == 4 and len(data["links"]) == 3
    categories = [c["key"] for c in data["categories"]]
    case_node = next(n for n in data["nodes"] if n["name"] == a.person.name)
    assert categories[case_node["category"]] == "confirmed"
    assert case_node["url"] == f"/tracing/cases/{a.pk}/chain/"


def test_chain_page_anonymises_cases_outside_the_jurisdiction(client_for, report):
    mine, theirs = report("grid_a1", onset_day=0), report("grid_b1", onset_day=3)
    link(mine, theirs)
    cluster = Cluster.objects.get()
    assert cluster.region.level == Region.Level.COUNTY

    response = client_for("grid_a1").get(f"/tracing/cases/{mine.pk}/chain/")
    page = response.content.decode()
    data = graph_data(page)
    assert inline_scripts(page) == []
    names = [n["name"] for n in data["nodes"]]
    assert mine.person.name in names and "辖区外病例" in names
    assert theirs.person.name not in json.dumps(data, ensure_ascii=False)
    outside = next(n for n in data["nodes"] if n["name"] == "辖区外病例")
    # No record id of theirs either: nodes are numbered, links refer to the numbers.
    assert outside["url"] == "" and "id" not in outside and "pk" not in outside
    assert {type(x) for link in data["links"] for x in (link["source"], link["target"])} == {int}
    # The cluster spans two streets: a grid worker is not shown it.
    assert f"/tracing/clusters/{cluster.pk}/" not in page
    assert client_for("grid_a1").get(f"/tracing/clusters/{cluster.pk}/").status_code == 404
    assert client_for("county_admin").get(f"/tracing/clusters/{cluster.pk}/").status_code == 200


def test_chain_page_of_a_deleted_case_is_404(users, client_for, report):
    a = report()
    delete_case(users["cdc_reviewer"], a, "误报")
    assert client_for("county_admin").get(f"/tracing/cases/{a.pk}/chain/").status_code == 404
