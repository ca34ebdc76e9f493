"""The person's own phone link for daily checks (no login).

A link carries a signed token naming one measure and the last day it may be used (the day
after the planned end). The signature (Django's signing, keyed by SECRET_KEY) means a
token cannot be made up or changed to name another measure; the page behind it accepts
checks for that measure only, while it is in force, and shows nothing but the person's
masked name and their own recent readings.
"""

import io
from dataclasses import dataclass
from datetime import date, timedelta

import segno
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from fangyi.measures.models import Measure

SALT = "fangyi.measures.self-check"


@dataclass(frozen=True)
class LinkClaim:
    measure_id: int
    valid_until: date


def self_check_token(measure: Measure) -> str:
    valid_until = measure.planned_end + timedelta(days=1)
    return signing.dumps([measure.pk, valid_until.isoformat()], salt=SALT, compress=True)


def self_check_path(measure: Measure) -> str:
    return reverse("self_check", args=[self_check_token(measure)])


def read_token(token: str, today: date | None = None) -> LinkClaim | None:
    """The claim of a genuine token still valid today, else None."""
    try:
        measure_id, valid_until = signing.loads(token, salt=SALT)
        claim = LinkClaim(int(measure_id), date.fromisoformat(valid_until))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if (today or timezone.localdate()) > claim.valid_until:
        return None
    return claim


def qr_svg(text: str, scale: int = 4) -> str:
    """A QR code as inline SVG markup (no image file, no script)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return out.getvalue().decode()
