"""Pinyin keys of Chinese names, for search by full pinyin (zhangsan) or initials (zs)."""

from pypinyin import Style, lazy_pinyin

# Surnames read differently from their characters' most common reading.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "单": ("shan",),
    "曾": ("zeng",),
    "解": ("xie",),
    "仇": ("qiu",),
    "朴": ("piao",),
    "区": ("ou",),
    "查": ("zha",),
    "盖": ("ge",),
    "覃": ("qin",),
    "秘": ("bi",),
    "乐": ("yue",),
    "缪": ("miao",),
    "翟": ("zhai",),
    "种": ("chong",),
    "员": ("yun",),
    "繁": ("po",),
    "尉迟": ("yu", "chi"),
    "万俟": ("mo", "qi"),
    "长孙": ("zhang", "sun"),
}
_LONGEST_FIRST = sorted(SURNAME_READINGS, key=len, reverse=True)


def name_pinyin(name: str) -> tuple[str, str]:
    """(full, initials) in lowercase ASCII; Latin letters and digits pass through."""
    name = "".join(name.split())
    syllables: list[str] = []
    for surname in _LONGEST_FIRST:
        if name.startswith(surname):
            syllables += SURNAME_READINGS[surname]
            name = name[len(surname) :]
            break
    syllables += lazy_pinyin(name, style=Style.NORMAL)
    words = [w.lower() for w in syllables if w.isascii() and w.isalnum()]
    return "".join(words), "".join(w[0] for w in words)
