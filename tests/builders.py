"""Test data builders shared by the suites."""

from stdnum.cn import ric


def check_digit(body17: str) -> str:
    # stdnum's calc_check_digit takes a full number and ignores its last character.
    return ric.calc_check_digit(body17 + "?")


def resident_id(birth: str = "19880512", sequence: str = "123", region: str = "330122") -> str:
    """A valid 18-character resident ID number."""
    body = f"{region}{birth}{sequence}"
    return body + check_digit(body)


def with_wrong_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def report_case(actor, person, disease_code="covid19", *, submit=True, **fields):
    """A report card through the real service (diagnosed an hour ago unless given)."""
    from datetime import timedelta

    from django.utils import timezone

    from fangyi.cases import services
    from fangyi.diseases.models import Disease

    diagnosed_at = fields.pop("diagnosed_at", timezone.now() - timedelta(hours=1))
    data = {
        "person": person,
        "disease": Disease.objects.get(code=disease_code),
        "classification": fields.pop("classification", "confirmed"),
        "diagnosed_at": diagnosed_at,
        "onset_date": fields.pop("onset_date", timezone.localtime(diagnosed_at).date()),
        **fields,
    }
    return services.create_case(actor, data, submit=submit, duplicate_confirmed=True)
