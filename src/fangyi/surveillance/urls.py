"""Pages of the surveillance module. Each group of pages keeps its own URL list in its module."""

from fangyi.surveillance import assessment_views, dashboard_views, signal_views, source_views

urlpatterns = [
    *signal_views.urlpatterns,
    *source_views.urlpatterns,
    *dashboard_views.urlpatterns,
    *assessment_views.urlpatterns,
]
