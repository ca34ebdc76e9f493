"""Pages of the lab module. Each group of pages keeps its own URL list in its module."""

from fangyi.lab import campaign_views, collect_views, import_views

urlpatterns = [
    *collect_views.urlpatterns,
    *import_views.urlpatterns,
    *campaign_views.urlpatterns,
]
