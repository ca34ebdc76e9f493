from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from fangyi.people.validation import (
    resident_id_facts,
    validate_passport,
    validate_phone,
    validate_resident_id,
)
from tests.builders import check_digit

REGION_CODES = ["330122", "110101", "340121", "510121"]
MOBILE_PREFIXES = ["130", "135", "138", "139", "150", "152", "158", "186", "189", "199"]


@st.composite
def resident_ids(draw):
    region = draw(st.sampled_from(REGION_CODES))
    birth = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2024, 12, 31)))
    sequence = draw(st.integers(min_value=0, max_value=999))
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + check_digit(body), birth


def error_code(call, value) -> str:
    with pytest.raises(ValidationError) as raised:
        call(value)
    return raised.value.code


@given(resident_ids())
def test_valid_resident_id_is_accepted_with_its_sex_and_birth_date(drawn):
    number, birth = drawn
    assert validate_resident_id(number.lower()) == number
    sex, birth_date = resident_id_facts(number)
    assert birth_date == birth
    assert sex == ("male" if int(number[16]) % 2 else "female")


@given(resident_ids(), st.integers(min_value=0, max_value=16), st.integers(1, 9))
def test_any_single_digit_error_is_caught(drawn, position, shift):
    number, _ = drawn
    digit = (int(number[position]) + shift) % 10
    typo = number[:position] + str(digit) + number[position + 1 :]
    with pytest.raises(ValidationError):
        validate_resident_id(typo)


def test_wrong_checksum_is_explained_in_chinese():
    body = "33012219880512123"
    wrong = "0" if check_digit(body) != "0" else "1"
    with pytest.raises(ValidationError) as raised:
        validate_resident_id(body + wrong)
    assert raised.value.code == "checksum"
    assert "校验位不正确" in str(raised.value.message)


def test_resident_id_errors_say_what_is_wrong():
    assert error_code(validate_resident_id, "3301221988") == "length"
    assert error_code(validate_resident_id, "33012219880512A234") == "format"
    body = "33012219881332123"  # month 13
    assert error_code(validate_resident_id, body + check_digit(body)) == "birth_date"
    body = "99999919880512123"  # no such region
    assert error_code(validate_resident_id, body + check_digit(body)) == "region"


def test_birth_date_in_the_future_is_refused():
    tomorrow = date.today() + timedelta(days=400)
    body = f"330122{tomorrow:%Y%m%d}123"
    assert error_code(validate_resident_id, body + check_digit(body)) == "birth_date"


@given(st.sampled_from(MOBILE_PREFIXES), st.integers(min_value=0, max_value=99_999_999))
def test_mainland_mobiles_are_normalised(prefix, rest):
    number = f"{prefix}{rest:08d}"
    assert validate_phone(f"+86 {number[:3]} {number[3:7]} {number[7:]}") == number
    assert validate_phone(number) == number


def test_landline_keeps_its_area_code():
    assert validate_phone("0571-88881234") == "057188881234"


@given(st.text(alphabet="0123456789", min_size=1, max_size=9))
def test_short_numbers_are_refused(digits):
    with pytest.raises(ValidationError):
        validate_phone(digits)


def test_passport_numbers():
    assert validate_passport(" e1234 5678 ") == "E12345678"
    assert error_code(validate_passport, "E12-") == "format"
