"""Pages of the travel module. Each group of pages keeps its own URL list in its module."""

from fangyi.travel import (
    area_views,
    arrival_views,
    canvass_views,
    report_views,
    selfreport,
    stay_views,
)

urlpatterns = [
    *area_views.urlpatterns,
    *arrival_views.urlpatterns,
    *selfreport.urlpatterns,
    *canvass_views.urlpatterns,
    *report_views.urlpatterns,
    *stay_views.urlpatterns,
]
