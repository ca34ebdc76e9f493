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
