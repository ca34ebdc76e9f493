from django.urls import path

from fangyi.cases import views

urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("export.xlsx", views.case_export, name="case_export"),
    path("new/", views.case_create, name="case_create"),
    path("review/", views.review_queue, name="review_queue"),
    path("person-lookup/", views.person_lookup, name="case_person_lookup"),
    path("<int:pk>/", views.case_detail, name="case_detail"),
    path("<int:pk>/submit/", views.case_submit, name="case_submit"),
    path("<int:pk>/review/", views.case_review, name="case_review"),
    path("<int:pk>/edit/", views.case_revise, name="case_revise"),
    path("<int:pk>/delete/", views.case_delete, name="case_delete"),
]
