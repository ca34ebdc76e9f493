"""Clusters (聚集性疫情) and transmission chains (传播链).

A cluster is a connected component of live cases (any status but deleted) under two kinds of
edge:

- transmission: a `CaseLink`, infector → infectee;
- shared exposure place: the trajectories of two cases of the same disease were at the same
  `geo.Place` at overlapping times, or within a gap (`CLUSTER_PLACE_GAP_MINUTES`, default 0).

A component of one case is no cluster: its case has `cluster=None`.

`recompute_all` computes the whole partition from the edges, set-based (a handful of
queries, the components by SciPy), and keeps cluster ids stable: a component keeps the
cluster that already holds most of its cases. A periodic job runs it (`tracing.tasks`).
Between runs, `on_link_added` and `on_place_shared` keep the partition current as edges
appear: they merge the clusters of the edge's two cases (or start one) and refresh that one
cluster. They never split a cluster; a deleted case or a removed link can, and the next
`recompute_all` does it. Both paths give the same clusters with the same ids.

A cluster's `generations` is its longest infector → infectee chain, counting the first case
as generation 1; shared places join cases without adding a generation. Its `region` is the
lowest region holding all its cases, so a user sees a cluster when their jurisdiction holds
all of it.

`chain_of` (the cases within two links of a case, with their contacts) and `cluster_graph`
(a cluster's cases and contacts) build the graphs the pages draw; `Graph.as_data` turns one
into what the page's script reads, anonymising the nodes outside the viewer's jurisdiction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils.translation import gettext as _
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fangyi.cases.models import CaseReport
from fangyi.core.access import user_scope_path
from fangyi.diseases.models import Classification
from fangyi.geo.models import PATH_SEPARATOR, Region
from fangyi.tracing.models import CaseLink, Cluster, Contact, TrajectoryEntry

if TYPE_CHECKING:
    from fangyi.accounts.models import User

DELETED = CaseReport.Status.DELETED
# A case's date in a cluster: its onset, or the day of diagnosis when the onset is unknown.
CASE_DATE = Coalesce("onset_date", TruncDate("diagnosed_at"))
# Contacts drawn in one graph at most: past that a force layout is unreadable (and slow on a
# phone); the page says how many were left out.
CONTACT_LIMIT = 1000
# Cases moved by one UPDATE at most (SQLite limits the parameters of a statement).
UPDATE_BATCH = 900


def place_gap() -> timedelta:
    """How far apart two visits to one place may be and still join their cases."""
    return timedelta(minutes=getattr(settings, "CLUSTER_PLACE_GAP_MINUTES", 0))


def live_links() -> QuerySet[CaseLink]:
    return CaseLink.objects.exclude(infector__status=DELETED).exclude(infectee__status=DELETED)


def live_visits() -> QuerySet[TrajectoryEntry]:
    """Trajectory entries at a known place, of live cases."""
    return TrajectoryEntry.objects.filter(place__isnull=False).exclude(
        investigation__case__status=DELETED
    )


# ---------------------------------------------------------------------------------------------
# The full partition
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def recompute_all(*, gap: timedelta | None = None) -> int:
    """Recompute every cluster from the links and the shared places; returns how many
    clusters there are. Cases keep their cluster's id when the cluster keeps most of them."""
    _hold_back_new_edges()
    gap = place_gap() if gap is None else gap
    cases = _CaseTable.read()
    link_src, link_dst = _positions(
        cases.ids, *_pair_arrays(live_links().values_list("infector_id", "infectee_id"))
    )
    place_a, place_b = _positions(cases.ids, *shared_place_pairs(_visit_rows(live_visits()), gap))
    labels, sizes = _components(len(cases.ids), np.r_[link_src, place_a], np.r_[link_dst, place_b])
    generation = longest_chains(len(cases.ids), link_src, link_dst)
    wanted = _component_values(cases, labels, sizes, generation)
    owner = _stable_ids(labels, cases.current, sizes)
    _write_partition(cases, labels, wanted, owner)
    return len(wanted)


@dataclass
class _CaseTable:
    """The cases that can be in a cluster (they have an edge) or must leave one, by id."""

    ids: np.ndarray
    current: np.ndarray  # cluster id, 0 for none
    days: np.ndarray  # date ordinal (CASE_DATE)
    paths: list[str]  # region paths

    @classmethod
    def read(cls) -> _CaseTable:
        rows = list(
            CaseReport.objects.alive()
            .filter(  # IN (subquery), which PostgreSQL hashes once, not EXISTS per case
                Q(cluster__isnull=False)
                | Q(pk__in=CaseLink.objects.values("infector"))
                | Q(pk__in=CaseLink.objects.values("infectee"))
                | Q(pk__in=live_visits().values("investigation__case"))
            )
            .annotate(case_date=CASE_DATE)
            .order_by("pk")
            .values_list("pk", "cluster_id", "case_date", "region__path")
        )
        n = len(rows)
        return cls(
            ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
            current=np.fromiter((r[1] or 0 for r in rows), dtype=np.int64, count=n),
            days=np.fromiter((r[2].toordinal() for r in rows), dtype=np.int64, count=n),
            paths=[r[3] for r in rows],
        )


def _component_values(
    cases: _CaseTable, labels: np.ndarray, sizes: np.ndarray, generation: np.ndarray
) -> dict[int, dict[str, Any]]:
    """Component label → its cluster's fields, for the components of two cases or more."""
    top = np.zeros(len(sizes), dtype=np.int64)
    np.maximum.at(top, labels, generation)
    first = np.full(len(sizes), np.iinfo(np.int64).max)
    np.minimum.at(first, labels, cases.days)
    last = np.zeros(len(sizes), dtype=np.int64)
    np.maximum.at(last, labels, cases.days)
    paths: dict[int, list[str]] = defaultdict(list)
    for label, path in zip(labels.tolist(), cases.paths, strict=True):
        paths[label].append(path)
    components = np.flatnonzero(sizes >= 2).tolist()
    region_paths = {c: common_region_path(paths[c]) for c in components}
    regions = _regions_at(region_paths.values())
    return {
        c: _cluster_values(
            size=int(sizes[c]),
            generations=int(top[c]),
            first_onset=date.fromordinal(int(first[c])),
            last_onset=date.fromordinal(int(last[c])),
            region=regions[region_paths[c]],
        )
        for c in components
    }


def _write_partition(
    cases: _CaseTable, labels: np.ndarray, wanted: dict[int, dict], owner: dict[int, int]
) -> None:
    """Update the kept clusters that changed, create the new ones, move the cases whose
    cluster changed (one UPDATE per cluster), delete the clusters no component kept."""
    existing = {
        row[0]: row[1:] for row in Cluster.objects.values_list("pk", *CLUSTER_FIELDS.values())
    }
    Cluster.objects.bulk_update(
        [
            Cluster(pk=owner[c], **values)
            for c, values in wanted.items()
            if c in owner and existing[owner[c]] != tuple(values.values())
        ],
        list(CLUSTER_FIELDS),
        batch_size=500,
    )
    new = [c for c in wanted if c not in owner]
    created = Cluster.objects.bulk_create([Cluster(**wanted[c]) for c in new])
    owner = owner | {c: cluster.pk for c, cluster in zip(new, created, strict=True)}

    cluster_of_label = np.zeros(int(labels.max(initial=-1)) + 1, dtype=np.int64)
    cluster_of_label[list(owner)] = list(owner.values())
    target = cluster_of_label[labels]
    moved: dict[int, list[int]] = defaultdict(list)
    for index in np.flatnonzero(target != cases.current).tolist():
        moved[int(target[index])].append(int(cases.ids[index]))
    for cluster_id, case_ids in moved.items():
        for start in range(0, len(case_ids), UPDATE_BATCH):
            CaseReport.objects.filter(pk__in=case_ids[start : start + UPDATE_BATCH]).update(
                cluster_id=cluster_id or None
            )
    CaseReport.objects.filter(status=DELETED, cluster__isnull=False).update(cluster=None)
    kept = set(owner.values())
    Cluster.objects.filter(pk__in=[pk for pk in existing if pk not in kept]).delete()


# Cluster fields written by the partition → the column read to compare them.
CLUSTER_FIELDS = {
    "name": "name",
    "region": "region_id",
    "size": "size",
    "generations": "generations",
    "first_onset": "first_onset",
    "last_onset": "last_onset",
}


def _hold_back_new_edges() -> None:
    """New links and trajectories (and another recomputation) wait until the partition is
    written: an edge added after it was read would be undone by the write. SQLite has a
    single writer anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "LOCK TABLE tracing_caselink, tracing_trajectoryentry IN SHARE ROW EXCLUSIVE MODE"
            )


def _pair_arrays(pairs: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    flat = np.fromiter((x for pair in pairs for x in pair), dtype=np.int64)
    return flat[0::2], flat[1::2]


def _positions(ids: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in `ids` (sorted) of both ends of each pair; a pair with an end missing from
    `ids` (a case deleted meanwhile) is dropped."""
    if not len(ids):
        return a[:0], b[:0]
    ia = np.minimum(np.searchsorted(ids, a), len(ids) - 1)
    ib = np.minimum(np.searchsorted(ids, b), len(ids) - 1)
    found = (ids[ia] == a) & (ids[ib] == b)
    return ia[found], ib[found]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Component label of each of `n` nodes joined by the edges a—b, and component sizes."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels, np.bincount(labels)


def longest_chains(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Generation of each of `n` cases given the links src → dst (positions): 1 for a case
    without an infector, else one more than its latest infector's.

    Relaxes all links at once per round, as many rounds as the longest chain. Links should
    not form a cycle; if they do, the rounds stop after `n` and the values are capped at n."""
    generation = np.ones(n, dtype=np.int64)
    for _round in range(n):
        if not len(src):
            break
        relaxed = generation.copy()
        np.maximum.at(relaxed, dst, generation[src] + 1)
        if np.array_equal(relaxed, generation):
            break
        generation = relaxed
    return np.minimum(generation, max(n, 1))


def _visit_rows(visits: QuerySet[TrajectoryEntry]) -> list[tuple]:
    return list(
        visits.values_list(
            "place_id", "investigation__case__disease_id", "start", "end", "investigation__case_id"
        )
    )


def shared_place_pairs(rows: list[tuple], gap: timedelta) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of cases whose visits overlap (within `gap`) at one place, same disease.

    `rows` are (place, disease, start, end, case). Not every overlapping pair: visits sorted by
    start within a place, each one is paired with the earlier visit that reaches furthest,
    when it overlaps that one (else it overlaps none of them). The pairs are true overlaps and
    join exactly the visits that chains of overlaps join, without the quadratic count of a
    crowded market."""
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    places = np.array([(r[0], r[1]) for r in rows], dtype=np.int64)
    _, key = np.unique(places, axis=0, return_inverse=True)
    key = key.reshape(-1).astype(np.int64)
    # Whole seconds (start down, end up): trajectories are kept to the minute.
    start = np.array([int(r[2].timestamp()) for r in rows], dtype=np.int64)
    end = np.array([-int(-r[3].timestamp() // 1) for r in rows], dtype=np.int64)
    end = np.maximum(end, start)
    case = np.array([r[4] for r in rows], dtype=np.int64)
    seconds = int(gap.total_seconds())

    order = np.lexsort((start, key))
    key, start, end, case = key[order], start[order], end[order], case[order]
    # Shift each place's times past the previous place's, so one running maximum serves all.
    base = int(start.min())
    span = int(end.max()) - base + seconds + 1
    start = start - base + key * span
    end = end - base + key * span
    reach = np.maximum.accumulate(end)
    holder = np.maximum.accumulate(np.where(end == reach, np.arange(len(end)), 0))
    joins = np.flatnonzero(start[1:] <= reach[:-1] + seconds)
    a, b = case[holder[joins]], case[joins + 1]
    different = a != b
    return a[different], b[different]


def common_region_path(paths: Iterable[str]) -> str:
    """The path of the lowest region holding all the given regions (by their paths)."""
    paths = list(paths)
    shortest, longest = min(paths), max(paths)
    length = 0
    for x, y in zip(shortest, longest, strict=False):
        if x != y:
            break
        length += 1
    common = shortest[:length]
    common = common[: common.rfind(PATH_SEPARATOR) + 1]
    # Cases in two top-level regions (a city's counties): the first case's top region.
    return common or shortest[: shortest.find(PATH_SEPARATOR) + 1]


def _regions_at(paths: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Region (id, name) by path."""
    wanted = set(paths)
    return {
        path: (pk, name)
        for path, pk, name in Region.objects.filter(path__in=wanted).values_list(
            "path", "pk", "name"
        )
    }


def _cluster_values(
    *, size: int, generations: int, first_onset: date, last_onset: date, region: tuple[int, str]
) -> dict[str, Any]:
    """The computed fields of a cluster, in the order of CLUSTER_FIELDS."""
    region_id, region_name = region
    name = _("%(region)s聚集性疫情（%(date)s）") % {
        "region": region_name,
        "date": first_onset.isoformat(),
    }
    return {
        "name": name[: Cluster._meta.get_field("name").max_length],
        "region_id": region_id,
        "size": size,
        "generations": min(generations, size),
        "first_onset": first_onset,
        "last_onset": last_onset,
    }


def _stable_ids(labels: np.ndarray, current: np.ndarray, sizes: np.ndarray) -> dict[int, int]:
    """Component → the existing cluster holding most of its cases (ties: the older cluster).
    A cluster goes to one component at most: the one holding most of its cases."""
    held = (current > 0) & (sizes[labels] >= 2)
    if not held.any():
        return {}
    pairs, counts = np.unique(np.stack([labels[held], current[held]]), axis=1, return_counts=True)
    order = np.lexsort((pairs[1], -counts))
    owner: dict[int, int] = {}
    taken: set[int] = set()
    for label, cluster_id in pairs[:, order].T.tolist():
        if label not in owner and cluster_id not in taken:
            owner[label] = cluster_id
            taken.add(cluster_id)
    return owner


# ---------------------------------------------------------------------------------------------
# Incremental updates
# ---------------------------------------------------------------------------------------------


def on_link_added(link: CaseLink) -> Cluster | None:
    """A transmission link was recorded: its two cases are in one cluster from now on."""
    return _join(link.infector_id, link.infectee_id)


def on_place_shared(case_a: CaseReport, case_b: CaseReport) -> Cluster | None:
    """Two cases were found at one place at the same time: one cluster from now on."""
    return _join(case_a.pk, case_b.pk)


def on_trajectory_recorded(case: CaseReport, *, gap: timedelta | None = None) -> Cluster | None:
    """The case's trajectory changed: join it with every case it shared a place with."""
    cluster = None
    for other in cases_sharing_places(case, gap=gap):
        cluster = _join(case.pk, other) or cluster
    return cluster


def cases_sharing_places(case: CaseReport, *, gap: timedelta | None = None) -> list[int]:
    """Ids of the live cases of the same disease whose trajectories overlap the case's at a
    place (within `gap`)."""
    gap = place_gap() if gap is None else gap
    visits = list(
        live_visits().filter(investigation__case=case).values_list("place", "start", "end")
    )
    if not visits:
        return []
    overlapping = Q()
    for place_id, start, end in visits:
        overlapping |= Q(place_id=place_id, start__lte=max(start, end) + gap, end__gte=start - gap)
    return sorted(
        set(
            live_visits()
            .filter(overlapping, investigation__case__disease_id=case.disease_id)
            .exclude(investigation__case=case)
            .values_list("investigation__case_id", flat=True)
        )
    )


@transaction.atomic
def _join(a: int, b: int) -> Cluster | None:
    """Put live cases a and b in one cluster: the larger of theirs absorbs the other (ties:
    the older), as `recompute_all` would decide; a new one when neither has a cluster."""
    if a == b:
        return None
    held = dict(
        CaseReport.objects.alive()
        .filter(pk__in=[a, b])
        .select_for_update()
        .values_list("pk", "cluster_id")
    )
    if len(held) < 2:
        return None
    clusters = sorted({c for c in held.values() if c is not None})
    if not clusters:
        cluster = Cluster.objects.create(**_values_of(Q(pk__in=[a, b])))
        CaseReport.objects.filter(pk__in=[a, b]).update(cluster=cluster)
        return cluster
    keep = clusters[0]
    if len(clusters) == 2:
        sizes = dict(
            CaseReport.objects.alive()
            .filter(cluster__in=clusters)
            .order_by()
            .values_list("cluster")
            .annotate(n=Count("pk"))
        )
        keep, dropped = sorted(clusters, key=lambda c: (-sizes.get(c, 0), c))
        CaseReport.objects.alive().filter(cluster=dropped).update(cluster=keep)
        Cluster.objects.filter(pk=dropped).delete()
    CaseReport.objects.filter(pk__in=[a, b], cluster__isnull=True).update(cluster=keep)
    return refresh_cluster(Cluster.objects.get(pk=keep))


def refresh_cluster(cluster: Cluster) -> Cluster:
    """Recompute one cluster's size, generations, dates, region and name from its cases."""
    values = _values_of(Q(cluster=cluster))
    for name, value in values.items():
        setattr(cluster, name, value)
    cluster.save(update_fields=list(CLUSTER_FIELDS))
    return cluster


def _values_of(cases_filter: Q) -> dict[str, Any]:
    cases = CaseReport.objects.alive().filter(cases_filter)
    facts = cases.aggregate(size=Count("pk"), first=Min(CASE_DATE), last=Max(CASE_DATE))
    paths = cases.order_by().values_list("region__path", flat=True).distinct()
    path = common_region_path(paths)
    in_cluster = cases.values("pk")
    links = live_links().filter(infector__in=in_cluster, infectee__in=in_cluster)
    generation = _generations(links.values_list("infector_id", "infectee_id"))
    return _cluster_values(
        size=facts["size"],
        generations=max(generation.values(), default=1),
        first_onset=facts["first"],
        last_onset=facts["last"],
        region=_regions_at([path])[path],
    )


# ---------------------------------------------------------------------------------------------
# Graphs: a case's chain, a cluster
# ---------------------------------------------------------------------------------------------

CASE, CONTACT = "case", "contact"
TRANSMISSION, EXPOSURE, SHARED_PLACE = "transmission", "exposure", "shared_place"


@dataclass(frozen=True)
class Node:
    kind: str  # CASE or CONTACT
    pk: int
    name: str  # the person's
    region_path: str
    classification: str = ""  # cases
    degree: int = 0  # contacts: 1 close contact (密接), 2 contact of a close contact (次密接)
    generation: int | None = None  # cases


@dataclass
class Graph:
    """Cases and contacts as nodes; edges (source, target, kind) between (kind, pk) keys:
    infector → infectee, case → close contact → its contacts, case — case at a shared place."""

    nodes: list[Node]
    edges: list[tuple[tuple[str, int], tuple[str, int], str]]
    focus: int | None = None  # the case a chain is drawn around
    contacts_total: int = 0
    contacts_shown: int = 0

    def cases(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == CASE]

    def contacts(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == CONTACT]

    def as_data(self, viewer: User) -> dict[str, Any]:
        """What cluster_graph.js draws (via json_script). Nodes outside the viewer's
        jurisdiction keep their place in the graph but no name and no link; nodes are
        numbered in order, so no record id of theirs reaches the page."""
        scope = user_scope_path(viewer)
        categories = _categories()
        category = {key: index for index, (key, _name) in enumerate(categories)}
        position = {(node.kind, node.pk): index for index, node in enumerate(self.nodes)}
        nodes = []
        for node in self.nodes:
            visible = scope is not None and node.region_path.startswith(scope)
            nodes.append(_node_data(node, visible, category, focus=node.pk == self.focus))
        links = [
            {"source": position[source], "target": position[target], "kind": kind}
            for source, target, kind in self.edges
        ]
        return {
            "categories": [{"key": key, "name": name} for key, name in categories],
            "nodes": nodes,
            "links": links,
        }


def _categories() -> list[tuple[str, str]]:
    return [
        *((value, str(label)) for value, label in Classification.choices),
        ("contact1", _("密切接触者")),
        ("contact2", _("次密切接触者")),
        ("outside", _("辖区外")),
    ]


def _node_data(node: Node, visible: bool, category: dict[str, int], *, focus: bool) -> dict:
    if node.kind == CASE:
        kind_label = dict(Classification.choices).get(node.classification, "")
        if visible:
            name, key, url = node.name, node.classification, reverse("case_chain", args=[node.pk])
        else:
            name, key, url = _("辖区外病例"), "outside", ""
            kind_label = ""
        parts = [name, str(kind_label)]
        if node.generation:
            parts.append(_("第%(generation)d代") % {"generation": node.generation})
    else:
        kind_label = _("密切接触者") if node.degree == 1 else _("次密切接触者")
        if visible:
            name, key = node.name, f"contact{node.degree}"
        else:
            name, key = _("辖区外接触者"), "outside"
        url = ""
        parts = [name, kind_label]
    return {
        "name": name,
        "kind": node.kind,
        "category": category.get(key, category["outside"]),
        "generation": node.generation,
        "focus": focus,
        "url": url,
        "text": " · ".join(p for p in parts if p),
    }


def chain_of(case: CaseReport, hops: int = 2, *, contact_limit: int = CONTACT_LIMIT) -> Graph:
    """The cases within `hops` transmission links of `case` (either direction), with their
    close contacts and the contacts of those. One query per hop, not per case."""
    reached = {case.pk}
    frontier = {case.pk}
    for _hop in range(hops):
        pairs = live_links().filter(Q(infector__in=frontier) | Q(infectee__in=frontier))
        frontier = {x for pair in pairs.values_list("infector_id", "infectee_id") for x in pair}
        frontier -= reached
        if not frontier:
            break
        reached |= frontier
    graph = _graph(
        CaseReport.objects.filter(pk__in=reached), focus=case.pk, contact_limit=contact_limit
    )
    return graph


def cluster_graph(
    cluster: Cluster, *, contact_limit: int = CONTACT_LIMIT, gap: timedelta | None = None
) -> Graph:
    """A cluster's live cases, their transmission links and shared places, and (up to
    `contact_limit`) their contacts."""
    cases = CaseReport.objects.alive().filter(cluster=cluster)
    graph = _graph(cases, focus=None, contact_limit=contact_limit)
    linked = {frozenset((s[1], t[1])) for s, t, kind in graph.edges if kind == TRANSMISSION}
    visits = _visit_rows(live_visits().filter(investigation__case__cluster=cluster))
    a, b = shared_place_pairs(visits, place_gap() if gap is None else gap)
    shared = {frozenset(pair) for pair in zip(a.tolist(), b.tolist(), strict=True)} - linked
    graph.edges += [((CASE, x), (CASE, y), SHARED_PLACE) for x, y in map(sorted, shared)]
    return graph


def _graph(cases: QuerySet[CaseReport], *, focus: int | None, contact_limit: int) -> Graph:
    """The graph of the given cases and their contacts. Generations count from the first case
    of the focus's cluster (the whole lineage, not only the cases drawn) when there is a
    focus; else from the cases drawn (a whole cluster)."""
    case_rows = list(
        cases.order_by("pk").values_list(
            "pk", "person__name", "classification", "region__path", "cluster_id"
        )
    )
    in_graph = cases.values("pk")
    links = list(
        live_links()
        .filter(infector__in=in_graph, infectee__in=in_graph)
        .values_list("infector_id", "infectee_id")
    )
    lineage = next((row[4] for row in case_rows if row[0] == focus), None)
    if lineage is None:
        generation = _generations(links)
    else:
        in_lineage = live_links().filter(infectee__cluster=lineage)
        generation = _generations(in_lineage.values_list("infector_id", "infectee_id"))
    nodes = [
        Node(CASE, pk, name, path, classification=kind, generation=generation.get(pk, 1))
        for pk, name, kind, path, _cluster in case_rows
    ]
    edges = [((CASE, s), (CASE, t), TRANSMISSION) for s, t in links]

    columns = ("pk", "person__name", "region__path")
    close = list(
        # Ordered by the source first: by id alone, PostgreSQL walks the primary key of all
        # contacts to find the first few of these (300 ms at a million contacts).
        Contact.objects.filter(case__in=in_graph)
        .order_by("case_id", "pk")
        .values_list(*columns, "case_id")[: contact_limit + 1]
    )
    close = close[:contact_limit]
    second = list(
        Contact.objects.filter(source_contact__in=[row[0] for row in close], case__isnull=True)
        .order_by("source_contact_id", "pk")
        .values_list(*columns, "source_contact_id")[: contact_limit - len(close) + 1]
    )
    second = second[: contact_limit - len(close)]
    shown = len(close) + len(second)
    if shown < contact_limit:
        total = shown
    else:
        total = (
            Contact.objects.filter(case__in=in_graph).count()
            + Contact.objects.filter(source_contact__case__in=in_graph, case__isnull=True).count()
        )
    for degree, rows, source_kind in ((1, close, CASE), (2, second, CONTACT)):
        for pk, name, path, source in rows:
            nodes.append(Node(CONTACT, pk, name, path, degree=degree))
            edges.append(((source_kind, source), (CONTACT, pk), EXPOSURE))
    return Graph(nodes, edges, focus=focus, contacts_total=total, contacts_shown=shown)


def _generations(links: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Generation of each case appearing in the links."""
    src, dst = _pair_arrays(links)
    nodes, positions = np.unique(np.r_[src, dst], return_inverse=True)
    positions = positions.reshape(-1)
    generation = longest_chains(len(nodes), positions[: len(src)], positions[len(src) :])
    return dict(zip(nodes.tolist(), generation.tolist(), strict=True))
