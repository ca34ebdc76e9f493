"""The JSON API under /api/ (OpenAPI at /api/docs).

Pages use the session (with CSRF); machines use a per-user bearer token. Either way the
request acts as that user, with the same jurisdiction scope as the pages."""

from ninja import NinjaAPI
from ninja.security import HttpBearer, django_auth

from fangyi.accounts.services import user_for_token


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Fangyi API",
    version="1",
    description="防疫平台接口 / Fangyi epidemic prevention and control API",
    auth=[TokenAuth(), django_auth],
    urls_namespace="api",
)


api.add_router("/", "fangyi.accounts.api.router")
api.add_router("/", "fangyi.geo.api.router")
api.add_router("/", "fangyi.people.api.router")
api.add_router("/", "fangyi.cases.api.router")
api.add_router("/", "fangyi.tracing.api.router")
api.add_router("/", "fangyi.measures.api.router")
api.add_router("/", "fangyi.lab.api.router")
api.add_router("/", "fangyi.travel.api.router")
api.add_router("/", "fangyi.surveillance.api.router")
