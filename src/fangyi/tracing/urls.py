from django.urls import path

from fangyi.tracing import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/export.xlsx", views.contact_export, name="contact_export"),
    path(
        "contacts/import-template.xlsx",
        views.contact_import_template,
        name="contact_import_template",
    ),
    path("contacts/<int:pk>/controlled/", views.contact_controlled, name="contact_controlled"),
    path("contacts/<int:pk>/contacts/", views.secondary_contacts, name="secondary_contacts"),
    path("cases/<int:case_id>/investigation/", views.investigation, name="investigation"),
    path(
        "cases/<int:case_id>/investigation/complete/",
        views.investigation_complete,
        name="investigation_complete",
    ),
    path(
        "cases/<int:case_id>/investigation/trajectory/",
        views.trajectory_add,
        name="trajectory_add",
    ),
    path(
        "cases/<int:case_id>/investigation/trajectory/<int:entry_id>/delete/",
        views.trajectory_remove,
        name="trajectory_remove",
    ),
    path("cases/<int:case_id>/contacts/", views.case_contacts, name="case_contacts"),
    path("cases/<int:case_id>/contacts/import/", views.contact_import, name="contact_import"),
    path(
        "cases/<int:case_id>/contacts/assistance.xlsx",
        views.assistance_export,
        name="assistance_export",
    ),
]
