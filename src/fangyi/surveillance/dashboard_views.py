"""Stub: pages filled in by the work on issue 7."""

urlpatterns: list = []
