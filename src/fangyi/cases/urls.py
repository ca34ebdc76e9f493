from django.urls import path

from fangyi.cases import views

urlpatterns = [
    path("", views.case_list, name="case_list"),
]
