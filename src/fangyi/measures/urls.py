"""Pages of the measures module. Each group of pages keeps its own URL list in its module."""

from fangyi.measures import facility_views, selfcheck, table_views, views

urlpatterns = [
    *views.urlpatterns,
    *facility_views.urlpatterns,
    *table_views.urlpatterns,
    *selfcheck.urlpatterns,
]
