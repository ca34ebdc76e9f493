"""The public self-report page (本人扫码报备): no login, reached by a QR code per community.

The URL carries a signed community id (Django's signing, keyed by SECRET_KEY): it cannot be
made up, and it only decides which grids the form offers. The page shows nothing of anyone:
after a report the person sees their receipt code and what to do, and later finds that
arrival again only with the receipt code and the same phone number (any mismatch reads
"not found", whichever part was wrong).

Against abuse: an arithmetic challenge drawn as SVG lines (no text to read off the page),
its answer kept only in the shared cache for 10 minutes and consumed by the first attempt;
a honeypot field people never see; hourly limits per client address (every request) and per
phone number (every report); responses kept out of caches (`keep_private`).
"""

import random
import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from fangyi.accounts.roles import Capability
from fangyi.core import crypto
from fangyi.core.access import public, require_capability
from fangyi.core.masking import mask_name
from fangyi.core.paging import paginate
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.geo.models import Region, inside_or_above
from fangyi.measures.links import qr_svg
from fangyi.measures.ratelimit import within_limit
from fangyi.measures.selfcheck import client_address, keep_private, notice, too_many
from fangyi.people.models import PHONE
from fangyi.people.validation import validate_phone
from fangyi.travel import services
from fangyi.travel.arrival_forms import ArrivalForm, grids_under
from fangyi.travel.models import Arrival

TOKEN_SALT = "fangyi.travel.self-report"
CAPTCHA_SALT = "fangyi.travel.captcha"
CAPTCHA_SECONDS = 600
HONEYPOT = "website"
CODES_PAGE_SIZE = 20


# Community links ---------------------------------------------------------------------------


def community_token(community: Region) -> str:
    """The same token for a community every time (no timestamp in it): a code printed
    today and one printed next month are the same link."""
    return signing.Signer(salt=TOKEN_SALT).sign(str(community.pk))


def community_path(community: Region) -> str:
    return reverse("travel_selfreport", args=[community_token(community)])


def community_of(token: str) -> Region | None:
    """The community a genuine token names, else None. Printed codes do not expire."""
    try:
        pk = int(signing.Signer(salt=TOKEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return Region.objects.filter(pk=pk, level=Region.Level.VILLAGE).first()


# The challenge -----------------------------------------------------------------------------

# Seven-segment digits: segment → line in a 20×36 cell.
SEGMENTS = {
    "a": (0, 0, 20, 0),
    "b": (20, 0, 20, 18),
    "c": (20, 18, 20, 36),
    "d": (0, 36, 20, 36),
    "e": (0, 18, 0, 36),
    "f": (0, 0, 0, 18),
    "g": (0, 18, 20, 18),
}
GLYPHS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abged",
    "3": "abgcd",
    "4": "fgbc",
    "5": "afgcd",
    "6": "afgedc",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    "+": [(2, 18, 18, 18), (10, 10, 10, 26)],
    "-": [(2, 18, 18, 18)],
}


def captcha_key(nonce: str) -> str:
    return f"travel:captcha:{nonce}"


def new_challenge() -> tuple[str, str]:
    """A fresh sum to solve: (signed challenge id for the form, its picture as SVG)."""
    rng = random.SystemRandom()
    left, right = rng.randint(10, 49), rng.randint(1, 9)
    plus = rng.random() < 0.5
    nonce = secrets.token_urlsafe(16)
    cache.set(captcha_key(nonce), left + right if plus else left - right, CAPTCHA_SECONDS)
    picture = captcha_svg(f"{left}{'+' if plus else '-'}{right}", rng)
    return signing.dumps(nonce, salt=CAPTCHA_SALT), picture


def read_challenge(challenge: str) -> str | None:
    """The challenge id of a genuine challenge under 10 minutes old."""
    try:
        return signing.loads(challenge, salt=CAPTCHA_SALT, max_age=CAPTCHA_SECONDS)
    except (signing.BadSignature, TypeError):
        return None


def solved(challenge: str, answer: str) -> bool:
    """Whether the answer is right; the challenge is used up either way (the cache delete
    succeeds for one request only, so a replay finds nothing)."""
    nonce = read_challenge(challenge or "")
    if nonce is None:
        return False
    expected = cache.get(captcha_key(nonce))
    if expected is None or not cache.delete(captcha_key(nonce)):
        return False
    try:
        return int((answer or "").strip()) == expected  # int() reads full-width digits too
    except ValueError:
        return False


def captcha_svg(text: str, rng) -> str:
    """The sum as jittered line segments with a few crossing lines: no text in the markup."""
    lines = []
    for position, char in enumerate(text):
        glyph = GLYPHS[char]
        segments = [SEGMENTS[s] for s in glyph] if isinstance(glyph, str) else glyph
        dx, dy, skew = 14 + position * 34, 10 + rng.randint(-3, 3), rng.uniform(-0.2, 0.2)
        for x1, y1, x2, y2 in segments:
            lines.append(
                tuple(
                    round(v + rng.uniform(-1.5, 1.5), 1)
                    for v in (dx + x1 - skew * y1, dy + y1, dx + x2 - skew * y2, dy + y2)
                )
                + (3,)
            )
    width = 28 + 34 * len(text)
    # Thin lines across the digits.
    lines += [(0, rng.randint(5, 50), width, rng.randint(5, 50), 1) for _line in range(4)]
    body = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke-width="{}"/>',
        lines,
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} 56" width="{}" height="112" '
        'stroke="currentColor" stroke-linecap="round" role="img" aria-label="{}">{}</svg>',
        width,
        width * 2,
        _("算式验证码"),
        body,
    )


# Public pages ------------------------------------------------------------------------------


def address_allowed(request) -> bool:
    return within_limit(
        f"travel-self-report:address:{client_address(request)}",
        settings.TRAVEL_SELF_REPORT_REQUESTS_PER_ADDRESS_HOUR,
    )


def invalid_link(request):
    return notice(
        request,
        404,
        _("二维码无效"),
        _("请扫描所在社区（村）张贴的来返人员报备二维码，或联系社区（村）工作人员。"),
    )


@public
@keep_private
@require_http_methods(["GET", "POST"])
def self_report(request, token: str):
    if not address_allowed(request):
        return too_many(request)
    community = community_of(token)
    if community is None:
        return invalid_link(request)
    form = ArrivalForm(request.POST or None, grids=grids_under(community), public=True)
    captcha_error = None
    if request.method == "POST":
        if request.POST.get(HONEYPOT):
            return notice(request, 400, _("提交失败"), _("请刷新页面后重新填写。"))
        if not solved(request.POST.get("challenge"), request.POST.get("captcha")):
            captcha_error = _("验证码错误或已过期，请按新的算式重新计算。")
            form.is_valid()  # show the form's own errors too
        elif form.is_valid():
            data = form.arrival_data()
            if not within_limit(
                f"travel-self-report:phone:{crypto.keyed_hash(data.phone, PHONE)}",
                settings.TRAVEL_SELF_REPORTS_PER_PHONE_HOUR,
            ):
                return too_many(request)
            try:
                arrival, created = services.register_arrival(
                    None, data, channel=Arrival.Channel.SELF
                )
            except RuleError as refused:
                add_rule_error(form, refused)
            else:
                return receipt_page(request, arrival, created or arrival.person.phone == data.phone)
    challenge, picture = new_challenge()
    context = {
        "form": form,
        "community": community,
        "challenge": challenge,
        "captcha_picture": picture,
        "captcha_error": captcha_error,
        "honeypot": HONEYPOT,
    }
    return render(request, "travel/selfreport_form.html", context)


def receipt_page(request, arrival: Arrival, own: bool):
    """The receipt code and what to do. A report merged into an arrival registered with
    another phone number shows neither: the submitter may not be that person."""
    context = {"own": own}
    if own:
        context |= {
            "receipt_code": arrival.receipt_code,
            "outcome": services.outcome_text(arrival),
            "advice": arrival.rule.advice if arrival.rule_id else "",
        }
    return render(request, "travel/selfreport_receipt.html", context)


def find_receipt(code: str, phone: str) -> Arrival | None:
    """The arrival with this receipt code whose person has this phone number, else None."""
    try:
        phone = validate_phone(phone)
    except ValidationError:  # a malformed phone finds nothing, like a wrong one
        return None
    code = "".join((code or "").split()).upper()
    if not phone or not code:
        return None
    return (
        Arrival.objects.select_related("person", "measure", "rule")
        .filter(receipt_code=code, person__phone_hash=crypto.keyed_hash(phone, PHONE))
        .first()
    )


@public
@keep_private
@require_http_methods(["GET", "POST"])
def receipt_lookup(request):
    if not within_limit(
        f"travel-receipt:address:{client_address(request)}",
        settings.TRAVEL_RECEIPT_LOOKUPS_PER_ADDRESS_HOUR,
    ):
        return too_many(request)
    found = missing = None
    code = request.POST.get("receipt_code", "")
    if request.method == "POST":
        arrival = find_receipt(code, request.POST.get("phone", ""))
        if arrival is None:
            missing = True
        else:
            found = {
                "name": mask_name(arrival.person.name),
                "arrival_date": arrival.arrival_date,
                "outcome": services.outcome_text(arrival),
                "advice": arrival.rule.advice if arrival.rule_id else "",
            }
    context = {"found": found, "missing": missing, "code": code}
    return render(request, "travel/selfreport_lookup.html", context)


# Staff: the communities' codes ----------------------------------------------------------------


def communities_of(user):
    """Communities in the user's jurisdiction, or the one above a grid worker's grid."""
    villages = Region.objects.filter(level=Region.Level.VILLAGE).order_by("path")
    return inside_or_above(villages, user, field="")


def community_link(request, community: Region) -> dict:
    url = request.build_absolute_uri(community_path(community))
    return {"community": community, "url": url, "qr": qr_svg(url)}


def selfreport_codes(request):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    page, query = paginate(request, communities_of(request.user), CODES_PAGE_SIZE)
    links = [community_link(request, community) for community in page]
    context = {"page": page, "query": query, "links": links}
    return render(request, "travel/selfreport_codes.html", context)


def selfreport_print(request, pk: int):
    """One community's code as a poster to print and put up."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    community = communities_of(request.user).filter(pk=pk).first()
    if community is None:
        raise Http404
    link = community_link(request, community)
    link["qr"] = qr_svg(link["url"], scale=8)
    return render(request, "travel/selfreport_print.html", link)


urlpatterns = [
    path("r/<str:token>/", self_report, name="travel_selfreport"),
    path("receipt/", receipt_lookup, name="travel_receipt"),
    path("self-report/codes/", selfreport_codes, name="travel_selfreport_codes"),
    path("self-report/codes/<int:pk>/", selfreport_print, name="travel_selfreport_print"),
]
