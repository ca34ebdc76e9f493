"""Validation of identity documents and phone numbers, with errors users can act on.

Messages are Chinese sentences (translated for English users); the English API detail
comes from the same messages through the active language.
"""

import re
from datetime import date

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

PASSPORT_PATTERN = re.compile(r"^[A-Z0-9]{5,20}$")


def normalise_document_number(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def validate_resident_id(value: str) -> str:
    """Return the normalised 18-character number, or raise a ValidationError."""
    number = normalise_document_number(value)
    if len(number) != 18:
        raise ValidationError(
            _("身份证号码应为18位，您输入了%(count)d位。"),
            code="length",
            params={"count": len(number)},
        )
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise ValidationError(
            _("身份证号码前17位必须是数字，最后一位是数字或字母X。"), code="format"
        )
    try:
        ric.validate(number)
    except InvalidChecksum as error:
        raise ValidationError(
            _("身份证号码校验位不正确，请逐位核对后重新输入。"), code="checksum"
        ) from error
    except (InvalidComponent, InvalidFormat, InvalidLength) as error:
        try:
            birth = ric.get_birth_date(number)
        except (InvalidComponent, ValueError):
            raise ValidationError(_("身份证号码中的出生日期无效。"), code="birth_date") from error
        raise ValidationError(
            _("身份证号码前6位不是有效的行政区划代码（出生年份%(year)d）。"),
            code="region",
            params={"year": birth.year},
        ) from error
    if ric.get_birth_date(number) > timezone.localdate():
        raise ValidationError(_("身份证号码中的出生日期在今天之后。"), code="birth_date")
    return number


def resident_id_facts(number: str) -> tuple[str, date]:
    """Sex and birth date as encoded in a valid resident ID number."""
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return sex, ric.get_birth_date(number)


def validate_passport(value: str) -> str:
    number = normalise_document_number(value)
    if not PASSPORT_PATTERN.fullmatch(number):
        raise ValidationError(_("证件号码只能包含字母和数字，长度5到20位。"), code="format")
    return number


def validate_phone(value: str) -> str:
    """Return a mainland number as national digits (13812345678, 057188881234)."""
    raw = re.sub(r"[\s()-]", "", value or "")
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as error:
        raise ValidationError(_("电话号码格式不正确。"), code="format") from error
    # Service and short numbers (10086, 95xxx…) are valid numbers but reach no person.
    too_short = parsed.country_code == 86 and len(str(parsed.national_number)) < 10
    if too_short or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("电话号码无效：手机号应为11位，固定电话请加区号（如 0571-88881234）。"),
            code="invalid",
        )
    if parsed.country_code != 86:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    national = str(parsed.national_number)
    if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
        national = "0" + national  # the trunk prefix belongs to a dialled area code
    return national
