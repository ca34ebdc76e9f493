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


def mask_name(name: str) -> str:
    """A name where others may look (a public page, a room tile) keeps its first and last
    characters: 张*, 张*丰, 欧**娜."""
    if len(name) <= 2:
        return name[:1] + "*" * max(len(name) - 1, 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]
