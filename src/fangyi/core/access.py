"""Jurisdiction scope: who may see which records.

The model
---------
Every user is attached to one region of the jurisdiction tree (county → township/street →
village/community → grid) and sees the records whose region lies in that region's subtree:
a grid worker sees their grid, a street office its communities and grids, the county all.
Regions carry a materialised path (`Region.path`, the codes of the ancestors joined by "/"),
so "inside the subtree" is one indexed prefix comparison.

Every model holding personal or operational data names the field that leads to its region
(`scope_region_field`) and gets its queries through `ScopedQuerySet.visible_to(user)`.
There is no other way for a view, an API endpoint, an export or a search to reach such
records: lists start from `Model.objects.visible_to(user)`, single records come from
`get_visible_or_404`. A record outside the user's scope is indistinguishable from a
missing one (404, never 403), so scope does not leak existence.

A user without a region sees nothing. Superusers are system operators and see everything.

Pages are login-only by default (Django's LoginRequiredMiddleware); a view that must be
reachable without a session is marked with `public` (a re-export of `login_not_required`)
and a test walks every URL pattern to check each one is either public or scoped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from fangyi.accounts.models import User

public = login_not_required

M = TypeVar("M", bound=models.Model)


def user_scope_path(user) -> str | None:
    """The path prefix of the user's jurisdiction, "" for everything, None for nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ""
    region = getattr(user, "region", None)
    return region.path if region is not None else None


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> ScopedQuerySet:
        path = user_scope_path(user)
        if path is None:
            return self.none()
        if path == "":
            return self.all()
        field = self.model.scope_region_field
        lookup = f"{field}__path__startswith" if field else "path__startswith"
        return self.filter(**{lookup: path})


def require_capability(user, capability: str) -> None:
    """A user without the capability gets the same 404 as for a record out of scope."""
    if not user.can(capability):
        raise Http404


def get_visible_or_404(model: type[M], user: User, **lookup) -> M:
    try:
        return model.objects.visible_to(user).get(**lookup)
    except (model.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error
