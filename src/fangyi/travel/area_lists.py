"""Reading published lists of risk areas into lines to publish (`matching.AreaEntry`): text
pasted from an official notice, or a spreadsheet.

What a notice is understood to say
----------------------------------
- A section heading names a level, and the areas below it (and after its colon) are at that
  level: "高风险地区（2个）：", "一、中风险地区", "封控区：", "管控区", "防范区", "低风险地区：".
- A section that lifts areas: its heading says "解除" (解除以下地区中风险区管控), or
  "调整为低风险"/"降为低风险" — an area leaving the medium/high list returns to the
  default, so it is lifted. A heading that sets another level ("调整为中风险地区：") lists
  areas at that level (publishing ends the old level and starts the new).
- Areas are separated by 、，,；; or line breaks; numbering ("1." "2、" "（一）" "①") and a
  trailing "。" are dropped.
- A place written once before a colon is carried to each area after it, and to the next
  lines until the next heading or place: "湖北省武汉市：江汉区花楼街道、江岸区" →
  湖北省武汉市江汉区花楼街道, 湖北省武汉市江岸区. An area that names its own province or
  city is left as it is. The same for a heading that starts with a place
  ("湖北省武汉市中风险地区：…").
- A line may carry its own level at its end: "湖北省武汉市江汉区花楼街道 高风险" or
  "…街道（中风险）".
- Lines before the first heading (the notice's preamble) are skipped unless they carry a
  level of their own, and so are sign-off lines (特此通告, the issuing body, the date).

Places are resolved afterwards, all lines in one pass (`check`). A problem of its line, and
the list is not published: a place that cannot be resolved, an area to add without a level,
and a place of which only the province or city is known while more was written
(湖北省武汉市某某区: cpca would make it the whole city).
"""

import re
from dataclasses import dataclass
from functools import cache

from django.utils.translation import gettext as _

from fangyi.core.rules import lazy_format
from fangyi.core.tabular import ImportFileError, heading, spreadsheet_lines
from fangyi.travel import matching
from fangyi.travel.addresses import MUNICIPAL_DISTRICTS, cpca
from fangyi.travel.matching import ADD, LIFT, AreaEntry, ListProblem, PublishPreview
from fangyi.travel.models import RiskLevel

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_LINES = 5000

# The level words of the notices: the plans' three levels and the 2022 zones.
LEVEL_WORDS = {
    "高风险": RiskLevel.HIGH,
    "封控区": RiskLevel.HIGH,
    "中风险": RiskLevel.MEDIUM,
    "管控区": RiskLevel.MEDIUM,
    "低风险": RiskLevel.LOW,
    "防范区": RiskLevel.LOW,
}
_LEVEL_PATTERN = "|".join(map(re.escape, LEVEL_WORDS))
LEVEL_IN_TEXT = re.compile(rf"({_LEVEL_PATTERN})")
# A level written after an area: "… 高风险", "…（中风险地区）".
TRAILING_LEVEL = re.compile(rf"[\s（(]*({_LEVEL_PATTERN})(?:地区|区域)?[）)]?$")
NUMBERING = re.compile(
    r"^\s*(?:[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+[、.．]|\d+[、.．)）]"
    r"|[①-⑳])\s*"
)
SEPARATORS = re.compile(r"[、，,；;]")
SENTENCE = re.compile(r"[、，,；;。]|如下|公布|通告|决定")
COUNT = re.compile(r"[（(]\s*\d+\s*个\s*[）)]")
LIFT_WORDS = re.compile(r"解除|调整为低风险|降为低风险|调为低风险")
SIGN_OFF = re.compile(r"^(?:特此|注[:：])|(?:通告|通知|指挥部|办公室)$|\d{4}年\d{1,2}月\d{1,2}日$")
# Characters of a place name: a heading's words before its level are not one.
PLACE_MARKS = re.compile(r"省|区|县|旗|街道|镇|乡|村|路|号|小区")

# Words of the level column of a file, beyond LEVEL_WORDS.
LEVEL_ALIASES = {"高": RiskLevel.HIGH, "中": RiskLevel.MEDIUM, "低": RiskLevel.LOW}
ACTIONS = {
    "": ADD,
    "新增": ADD,
    "增加": ADD,
    "列入": ADD,
    "调整": ADD,
    "add": ADD,
    "解除": LIFT,
    "移出": LIFT,
    "删除": LIFT,
    "lift": LIFT,
}
AREA_HEADINGS = ("地区", "区域", "地址", "风险地区", "风险区域")
LEVEL_HEADINGS = ("风险等级", "等级")
ACTION_HEADINGS = ("操作",)


def level_of(word: str) -> str | None:
    """A level as written in a notice or a file (高风险, 封控区, 中, high…); None if unknown."""
    text = re.sub(r"\s", "", str(word or "")).removesuffix("地区").removesuffix("区域")
    if text in RiskLevel.values:
        return text
    for candidate in (text, text.removesuffix("区")):
        if candidate in LEVEL_ALIASES:
            return LEVEL_ALIASES[candidate]
    for level_word, level in LEVEL_WORDS.items():
        if text in (level_word, level_word.removesuffix("区")):
            return level
    for code, label in RiskLevel.choices:
        if text == str(label):
            return code
    return None


@cache
def _place_starts() -> tuple[str, ...]:
    """Names an area can start with when it names its own province or city: full names of
    provinces and cities, and provinces' short names (湖北, 内蒙古)."""
    names = set()
    for info in cpca.ad_2_addr_dict.values():
        if info.rank in (0, 1) and info.name != MUNICIPAL_DISTRICTS:
            names.add(info.name)
        if info.rank == 0:
            short = re.sub(
                r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", info.name
            )
            names.add(short)
    return tuple(sorted(names, key=len, reverse=True))


def names_own_place(text: str) -> bool:
    for name in _place_starts():
        if text.startswith(name):
            # 海南区 (a district of 乌海市) does not name the province 海南.
            return not (text[len(name) : len(name) + 1] in ("区", "县") and not name.endswith("市"))
    return False


@dataclass
class _Section:
    level: str = ""
    action: str = ADD
    base: str = ""  # the place of the heading, if it names one
    prefix: str = ""  # the place carried to the areas below
    started: bool = False


def _heading_of(text: str) -> tuple[str, str, str] | None:
    """(level, action, place prefix) when `text` is a section heading, else None."""
    match = LEVEL_IN_TEXT.search(text)
    lifting = LIFT_WORDS.search(text)
    if not match and not lifting:
        return None
    level = LEVEL_WORDS[match.group(1)] if match else ""
    before = text[: match.start()] if match else text[: lifting.start()]
    prefix = before if names_own_place(before) else ""
    action = LIFT if lifting else ADD
    return level, action, prefix


def _is_heading_line(text: str) -> bool:
    """A line without a colon is a heading when little but a level is on it
    ("一、高风险地区（2个）"), not an area followed by its level."""
    match = LEVEL_IN_TEXT.search(text) or LIFT_WORDS.search(text)
    if match is None:
        return False
    before = text[: match.start()].replace("地区", "").replace("区域", "")
    after = COUNT.sub("", text[match.end() :])
    after = re.sub(r"地区|区域|名单|如下|[:：。]", "", after)
    if LIFT_WORDS.search(text):
        return not names_own_place(text)
    return (
        not after
        and len(before) <= 8
        and not PLACE_MARKS.search(before)
        and (not names_own_place(before))
    )


def _items(text: str) -> list[str]:
    return [item.strip().rstrip("。.") for item in SEPARATORS.split(text) if item.strip()]


def _with_prefix(prefix: str, item: str) -> str:
    return item if not prefix or names_own_place(item) else prefix + item


def parse_notice(text: str) -> list[AreaEntry]:
    """The areas of a notice's text, each with the number of its line (module docstring).
    An area whose level could not be told has level ""; `check` reports it."""
    entries = []
    section = _Section()
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = re.sub(r"\s+", " ", NUMBERING.sub("", raw)).strip()
        if not line or SIGN_OFF.search(line.rstrip("。")):
            continue
        head, colon, rest = line.partition("：") if "：" in line else line.partition(":")
        if not colon:
            head, rest = "", line
        found = _heading_of(head) if colon else None
        if found is not None:
            level, action, prefix = found
            section = _Section(level, action, base=prefix, prefix=prefix, started=True)
        elif colon:
            # A place written once ("湖北省武汉市："), not a sentence ("…公布如下：").
            place = head.strip() if len(head) <= 30 and not SENTENCE.search(head) else ""
            section.prefix = _with_prefix(section.base, place) if place else section.base
        elif _is_heading_line(line):
            level, action, prefix = _heading_of(line)
            section = _Section(level, action, base=prefix, prefix=prefix, started=True)
            continue
        # A level at the end of the line is that of its areas ("A、B 中风险").
        line_level = TRAILING_LEVEL.search(rest.rstrip("。"))
        if line_level:
            rest = rest.rstrip("。")[: line_level.start()]
        for item in _items(rest):
            own = TRAILING_LEVEL.search(item) or line_level
            if own is None and not section.started:
                continue  # preamble
            if own is not None and own is not line_level:
                item = item[: own.start()].strip()
            if item and not colon and names_own_place(item):
                section.prefix = section.base  # a place of its own ends the one carried
            if item:
                entries.append(
                    AreaEntry(
                        line=number,
                        text=_with_prefix(section.prefix, item),
                        level=LEVEL_WORDS[own.group(1)] if own else section.level,
                        action=ADD if own else section.action,
                    )
                )
    return entries


def parse_area_file(upload) -> tuple[list[AreaEntry], list[ListProblem]]:
    """The areas of a .csv/.xlsx with columns 地区 (or 区域/地址), 风险等级 (or 等级) and
    optionally 操作 (新增/解除); line numbers as the spreadsheet shows them."""
    entries, problems = [], []
    columns = None
    for number, cells in spreadsheet_lines(upload, max_bytes=MAX_FILE_BYTES):
        values = [str(cell).strip() if cell is not None else "" for cell in cells]
        if not any(values):
            continue
        if columns is None:
            columns = _columns([heading(value) for value in values])
            continue
        if len(entries) + len(problems) >= MAX_LINES:
            raise ImportFileError(_("名单超过 %(count)s 行，请分批发布。") % {"count": MAX_LINES})
        area, level_word, action_word = (
            values[index] if index is not None and index < len(values) else "" for index in columns
        )
        text = area or " ".join(values)
        action = ACTIONS.get(action_word.lower())
        level = level_of(level_word) if level_word else ""
        if not area:
            problems.append(ListProblem(number, text, _("地区为空。")))
        elif action is None:
            reason = lazy_format(_("无法识别的操作“%(word)s”，应为新增或解除。"), word=action_word)
            problems.append(ListProblem(number, text, str(reason)))
        elif level is None:
            reason = lazy_format(
                _(
                    "无法识别的风险等级“%(word)s”，应为高风险、中风险、低风险（或封控区、管控区、防范区）。"
                ),
                word=level_word,
            )
            problems.append(ListProblem(number, text, str(reason)))
        else:
            entries.append(AreaEntry(line=number, text=area, level=level, action=action))
    if columns is None:
        raise ImportFileError(_("文件是空的。"))
    return entries, problems


def _columns(headings: list[str]) -> tuple[int | None, int | None, int | None]:
    def find(names) -> int | None:
        return next((i for i, value in enumerate(headings) if value in names), None)

    area, level = find(AREA_HEADINGS), find(LEVEL_HEADINGS)
    if area is None or level is None:
        raise ImportFileError(
            _("第一行须为列名，至少包括“地区”和“风险等级”两列（可选“操作”：新增或解除）。")
        )
    return area, level, find(ACTION_HEADINGS)


def check(entries: list[AreaEntry], problems: list[ListProblem] = ()) -> PublishPreview:
    """The preview of a list: each area resolved and checked (`matching.check_entries`),
    with the problems of reading it; problems by line."""
    preview = matching.check_entries(entries)
    preview.problems = sorted([*problems, *preview.problems], key=lambda p: p.line)
    return preview
