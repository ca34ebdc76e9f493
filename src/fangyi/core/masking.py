"""How personal data is shown when it is not revealed."""


def mask_id_number(value: str) -> str:
    """Resident IDs keep the region (6) and the last 4 characters: 110101********1234.

    Other documents (passports…) keep the first and last two characters."""
    if not value:
        return ""
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_phone(value: str) -> str:
    """Mobiles keep the carrier prefix and the last four digits: 138****5678."""
    if not value:
        return ""
    if len(value) <= 4:
        return "*" * len(value)
    head = 3 if len(value) >= 11 else 0
    return value[:head] + "*" * (len(value) - head - 4) + value[-4:]
