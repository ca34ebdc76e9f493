from django.urls import path

from fangyi.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("status/", views.status, name="status"),
    path("audit/access/", views.access_log, name="access_log"),
    path("healthz", views.healthz, name="healthz"),
    path("tasks/", views.my_tasks, name="my_tasks"),
]
