"""The person's own phone link (本人手机填报): no login, one measure, readings taken now.

The signed token in the URL (links.py) is the only key: it names the measure, and nothing
in the URL or the form can point the page at another one. The page shows the masked name
and the person's own recent readings, nothing else. Because the URL is the key, responses
stay out of caches and out of Referer headers to other sites. Every request counts against
the client address and every submission against the link (ratelimit.py), so neither
guessing tokens nor flooding one measure with readings gets far.
"""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from fangyi.core import deadlines
from fangyi.core.access import public
from fangyi.core.masking import mask_name
from fangyi.core.models import Duty
from fangyi.measures import links, services
from fangyi.measures.forms import HealthCheckForm
from fangyi.measures.models import HealthCheck, Measure
from fangyi.measures.ratelimit import within_limit

RECENT_DAYS = 3


def keep_private(view):
    """The token is in the URL: no cache may keep the page, and the URL goes to no other
    site as a Referer. Not "no-referrer": under it browsers send "Origin: null" with the
    form's POST, which the CSRF check rightly refuses."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapped


def client_address(request) -> str:
    """Where the request came from. Behind the reverse proxy (FANGYI_HTTPS, under which its
    X-Forwarded-Proto is trusted too) that is the last X-Forwarded-For entry, the one the
    proxy added; earlier entries are the client's to invent."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.SECURE_PROXY_SSL_HEADER and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def notice(request, status: int, title, text):
    return render(
        request, "measures/selfcheck_notice.html", {"title": title, "text": text}, status=status
    )


def too_many(request):
    return notice(
        request,
        429,
        _("提交过于频繁"),
        _("请稍后（一小时后）再试。如需帮助，请联系所在社区（村）工作人员。"),
    )


def reading_form(measure: Measure, data=None) -> HealthCheckForm:
    """The reading is taken now: the time is not the person's to set."""
    form = HealthCheckForm(data, measure=measure)
    form.fields["checked_at"].disabled = True
    return form


@public
@keep_private
@require_http_methods(["GET", "POST"])
def self_check(request, token: str):
    if not within_limit(
        f"self-check:address:{client_address(request)}",
        settings.SELF_CHECK_REQUESTS_PER_ADDRESS_HOUR,
    ):
        return too_many(request)
    claim = links.read_token(token)
    measure = None
    if claim is not None:
        measure = Measure.objects.select_related("person").filter(pk=claim.measure_id).first()
    if measure is None:
        return notice(
            request,
            404,
            _("链接无效或已过期"),
            _("请向所在社区（村）工作人员索取新的健康监测填报链接。"),
        )
    if measure.status != Measure.Status.ACTIVE:
        return notice(
            request,
            410,
            _("管控已结束") if not measure.is_open else _("管控尚未开始"),
            _("此链接现在不能填报。如有疑问，请联系所在社区（村）工作人员。"),
        )

    form = reading_form(measure)
    if request.method == "POST":
        if not within_limit(
            f"self-check:measure:{measure.pk}", settings.SELF_CHECK_SUBMISSIONS_PER_HOUR
        ):
            return too_many(request)
        form = reading_form(measure, request.POST)
        if form.is_valid():
            entry = form.entry()
            services.record_checks(None, [entry], source=HealthCheck.Source.SELF)
            hours = deadlines.rule_hours(Duty.REFER_FEVER) if entry.abnormal else None
            return render(
                request,
                "measures/selfcheck_done.html",
                {"entry": entry, "referral_hours": hours, "back": request.path},
            )
    return reading_page(request, measure, form)


def reading_page(request, measure: Measure, form: HealthCheckForm):
    """The form, with how far today's readings are and the last days' readings."""
    today = timezone.localdate()
    recent = list(
        measure.checks.filter(day__gt=today - timedelta(days=RECENT_DAYS)).order_by("-checked_at")
    )
    return render(
        request,
        "measures/selfcheck.html",
        {
            "form": form,
            "name": mask_name(measure.person.name),
            "measure": measure,
            "course_day": measure.course_day(today),
            "done_today": sum(1 for check in recent if check.day == today),
            "recent": recent,
        },
    )


urlpatterns = [path("m/<str:token>/", self_check, name="self_check")]
