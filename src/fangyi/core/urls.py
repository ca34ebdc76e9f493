from django.urls import path

from fangyi.core import task_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("status/", views.status, name="status"),
    path("audit/access/", views.access_log, name="access_log"),
    path("healthz", views.healthz, name="healthz"),
    path("tasks/", task_views.my_tasks, name="my_tasks"),
    path("tasks/alerts/", task_views.alert_list, name="alert_list"),
    path("tasks/alerts/badge/", task_views.alert_badge, name="alert_badge"),
    path("tasks/alerts/read/", task_views.alerts_read_all, name="alerts_read_all"),
    path("tasks/alerts/<int:pk>/read/", task_views.alert_read, name="alert_read"),
    path("tasks/timeliness/", task_views.timeliness_page, name="timeliness"),
    path("tasks/timeliness/export.xlsx", task_views.timeliness_export, name="timeliness_export"),
]
