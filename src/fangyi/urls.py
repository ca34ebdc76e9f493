from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from fangyi.api import api
from fangyi.core.access import public


def api_urls():
    """ninja authenticates each call itself (token or session), so the login redirect of
    LoginRequiredMiddleware must not stand in front of it."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace


urlpatterns = [
    path("", include("fangyi.core.urls")),
    path("accounts/", include("fangyi.accounts.urls")),
    path("persons/", include("fangyi.people.urls")),
    path("cases/", include("fangyi.cases.urls")),
    path("tracing/", include("fangyi.tracing.urls")),
    path("tracing/", include("fangyi.tracing.cluster_urls")),
    path("measures/", include("fangyi.measures.urls")),
    path("lab/", include("fangyi.lab.urls")),
    path("travel/", include("fangyi.travel.urls")),
    path("surveillance/", include("fangyi.surveillance.urls")),
    path("i18n/setlang/", public(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/", api_urls()),
]
