"""Cluster and chain pages, mounted under /tracing/ at the root."""

from django.urls import path

from fangyi.tracing import cluster_views

urlpatterns = [
    path("clusters/", cluster_views.cluster_list, name="cluster_list"),
    path("clusters/<int:pk>/", cluster_views.cluster_detail, name="cluster_detail"),
    path("cases/<int:case_id>/chain/", cluster_views.case_chain, name="case_chain"),
]
