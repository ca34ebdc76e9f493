"""Pages of clusters and transmission chains: the cluster list, a cluster's graph, the chain
around one case. Scoped: a cluster is seen by users whose jurisdiction holds its region;
inside a graph, nodes outside the user's jurisdiction are anonymised (`Graph.as_data`)."""

from django.shortcuts import render

from fangyi.accounts.roles import Capability
from fangyi.cases.models import CaseReport
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.paging import paginate
from fangyi.tracing import clusters
from fangyi.tracing.models import Cluster

LIVE = [s for s in CaseReport.Status.values if s != CaseReport.Status.DELETED]


def cluster_list(request):
    require_capability(request.user, Capability.VIEW_PERSONS)
    visible = Cluster.objects.visible_to(request.user).select_related("region")
    page, query = paginate(request, visible.order_by("-size", "-id"), 50)
    return render(request, "tracing/cluster_list.html", {"page": page, "query": query})


def cluster_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    cluster = get_visible_or_404(Cluster, request.user, pk=pk)
    graph = clusters.cluster_graph(cluster)
    cases = (
        CaseReport.objects.visible_to(request.user)
        .alive()
        .filter(cluster=cluster)
        .select_related("person", "region")
        .order_by("onset_date", "diagnosed_at", "pk")
    )
    context = {"cluster": cluster, "graph": graph, "data": graph.as_data(request.user)}
    return render(request, "tracing/cluster_detail.html", context | {"cases": cases})


def case_chain(request, case_id: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    case = get_visible_or_404(CaseReport, request.user, pk=case_id, status__in=LIVE)
    graph = clusters.chain_of(case)
    cluster = Cluster.objects.visible_to(request.user).filter(pk=case.cluster_id).first()
    context = {"case": case, "cluster": cluster, "graph": graph}
    context["data"] = graph.as_data(request.user)
    return render(request, "tracing/cluster_chain.html", context)
