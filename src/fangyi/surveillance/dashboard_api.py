"""Stub: API filled in by the work on issue 7."""

from ninja import Router

router = Router(tags=["surveillance"])
