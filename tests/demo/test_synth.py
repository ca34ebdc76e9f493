"""Tests for the deterministic demo-data generator (no database needed)."""

from __future__ import annotations

import datetime
import functools
import itertools
from collections import Counter

import phonenumbers
import pytest
from pypinyin import Style, lazy_pinyin
from stdnum.cn import ric

from fangyi.demo import synth
from fangyi.demo.synth import (
    COUNTY_CODE,
    COUNTY_NAME,
    OTHER_BIRTHPLACE_CODES,
    REFERENCE_DATE,
    PersonRow,
    grid_addresses,
    id_check_char,
    persons,
    region_tree,
)
from fangyi.people.pinyin import SURNAME_READINGS

COMPOUND_SURNAMES = {s for s in synth._SURNAME_WEIGHTS.split() if len(s.rstrip("0123456789")) > 1}
COMPOUND_SURNAMES = {s.rstrip("0123456789") for s in COMPOUND_SURNAMES}


@functools.cache
def _tree(seed: int = 7):
    return region_tree(seed)


@functools.cache
def _rows(seed: int, n: int) -> tuple[PersonRow, ...]:
    regions = _tree()
    grids = [r.code for r in regions if r.level == "grid"]
    return tuple(persons(seed, n, grids, grid_addresses(regions)))


# ---------------------------------------------------------------- constants


def test_birthplace_codes_valid_for_every_birth_year():
    for code in (COUNTY_CODE, *OTHER_BIRTHPLACE_CODES):
        for year in (1929, 1940, 1960, 1985, 2000, 2025):
            body = f"{code}{year}0101001"
            assert ric.is_valid(body + id_check_char(body)), (code, year)
    assert len(set(OTHER_BIRTHPLACE_CODES)) == len(OTHER_BIRTHPLACE_CODES) >= 25
    assert COUNTY_CODE not in OTHER_BIRTHPLACE_CODES


def test_check_char_matches_stdnum():
    for body in ("11010519491231002", "36042619910101007", "33012219800229123"):
        assert id_check_char(body) == ric.calc_check_digit(body + "0")


# ---------------------------------------------------------------- region tree


def test_region_tree_structure():
    regions = _tree()
    by_code = {r.code: r for r in regions}
    assert len(by_code) == len(regions), "codes must be unique"
    assert regions[0] == synth.RegionSpec(COUNTY_CODE, COUNTY_NAME, "county", None, "")
    seen: set[str] = set()
    expected = {"township": ("county", 9), "village": ("township", 12), "grid": ("village", 15)}
    for r in regions:
        if r.parent_code is not None:
            assert r.parent_code in seen, "parents must come before children"
            parent = by_code[r.parent_code]
            assert r.code.startswith(parent.code)
            assert parent.level == expected[r.level][0]
            assert len(r.code) == expected[r.level][1] and r.code.isdigit()
        seen.add(r.code)

    levels = Counter(r.level for r in regions)
    assert levels["county"] == 1
    assert levels["township"] == 10
    assert 80 <= levels["village"] <= 120
    assert 2 * levels["village"] <= levels["grid"] <= 4 * levels["village"]

    townships = [r for r in regions if r.level == "township"]
    kinds = Counter(r.kind for r in townships)
    assert kinds == {"street": 4, "town": 6}
    for t in townships:
        suffix = ("街道",) if t.kind == "street" else ("镇", "乡")
        assert t.name.endswith(suffix)
    for r in regions:
        if r.level == "village":
            assert r.kind in ("village", "community")
            assert r.name.endswith("村" if r.kind == "village" else "社区")
            if by_code[r.parent_code].kind == "street":
                assert r.kind == "community"
        elif r.level == "grid":
            assert r.kind == "" and r.name.endswith("网格")

    # grids per village/community
    per_village = Counter(r.parent_code for r in regions if r.level == "grid")
    assert set(per_village.values()) <= {2, 3, 4}
    # unique names among siblings
    siblings = Counter((r.parent_code, r.name) for r in regions)
    assert max(siblings.values()) == 1


def test_region_tree_parameters_and_determinism():
    small = region_tree(3, townships=3, villages_per_township=4)
    levels = Counter(r.level for r in small)
    assert levels["township"] == 3
    assert 6 <= levels["village"] <= 18
    assert region_tree(3, 3, 4) == small
    assert region_tree(4, 3, 4) != small


def test_grid_addresses():
    regions = _tree()
    addresses = grid_addresses(regions)
    by_code = {r.code: r for r in regions}
    grids = [r for r in regions if r.level == "grid"]
    assert set(addresses) == {g.code for g in grids}
    for g in grids:
        village = by_code[g.parent_code]
        township = by_code[village.parent_code]
        assert addresses[g.code] == township.name + village.name


# ---------------------------------------------------------------- persons


def test_persons_deterministic():
    a = _rows(1, 2000)
    regions = _tree()
    grids = [r.code for r in regions if r.level == "grid"]
    b = tuple(persons(1, 2000, grids, grid_addresses(regions)))
    assert a == b
    assert repr(a) == repr(b)
    c = tuple(persons(2, 2000, grids, grid_addresses(regions)))
    assert a != c
    assert sum(x == y for x, y in zip(a, c, strict=True)) == 0
    # a shorter run is a prefix of a longer one
    assert _rows(1, 5000)[:2000] == a


def test_persons_count_and_fields():
    rows = _rows(1, 5000)
    assert len(rows) == 5000
    regions = _tree()
    addresses = grid_addresses(regions)
    for p in rows:
        assert p.grid_code in addresses
        assert p.address.startswith(addresses[p.grid_code])
        if addresses[p.grid_code].endswith("社区"):
            assert p.address.endswith("室") and "幢" in p.address and "单元" in p.address
        else:
            assert p.address.endswith("号") and "组" in p.address
        assert p.sex in ("male", "female")
        assert p.category in ("resident", "floating", "key")
        assert set(p.key_groups) <= set(synth.KEY_GROUPS)
        assert len(set(p.key_groups)) == len(p.key_groups)
        age = (REFERENCE_DATE - p.birth_date).days / 365.2425
        assert 0 <= age < synth.MAX_AGE + 1.1
        if age < 18:
            assert p.workplace == "" and p.key_groups == ()
        if p.key_groups:
            assert p.workplace


def test_resident_ids_valid_and_consistent():
    rows = _rows(1, 5000)
    ids = [p for p in rows if p.id_type == "resident_id"]
    assert len(ids) > 0.95 * len(rows)
    for p in ids:
        assert ric.validate(p.id_number) == p.id_number
        assert ric.get_birth_date(p.id_number) == p.birth_date
        assert (int(p.id_number[16]) % 2 == 1) == (p.sex == "male")
        assert p.id_number[:6] == COUNTY_CODE or p.id_number[:6] in OTHER_BIRTHPLACE_CODES
    for p in rows:
        if p.id_type == "passport":
            assert len(p.id_number) == 9 and p.id_number[0] == "E" and p.id_number[1:].isdigit()
        elif p.id_type == "none":
            assert p.id_number == ""
            assert (REFERENCE_DATE - p.birth_date).days < 3 * 366
        else:
            assert p.id_type == "resident_id"
    numbers = [p.id_number for p in rows if p.id_number]
    assert len(set(numbers)) == len(numbers)
    local = sum(p.id_number.startswith(COUNTY_CODE) for p in ids) / len(ids)
    assert 0.7 < local < 0.9


def test_ids_unique_under_pressure():
    # Many people on few grids: IDs and phones stay unique over a larger run.
    rows = list(persons(5, 30000, ["330122001001001"], {"330122001001001": "城关街道文化社区"}))
    ids = [p.id_number for p in rows if p.id_number]
    assert len(set(ids)) == len(ids)
    phones = [p.phone for p in rows if p.phone]
    assert len(set(phones)) == len(phones)
    addresses = {p.household_key: p.address for p in rows}
    assert len(set(addresses.values())) == len(addresses)


def test_phones_valid_and_unique():
    rows = _rows(1, 5000)
    phones = [p.phone for p in rows if p.phone]
    assert len(set(phones)) == len(phones)
    assert 0.05 < 1 - len(phones) / len(rows) < 0.16
    for ph in phones:
        assert len(ph) == 11 and ph.isdigit()
        assert phonenumbers.is_valid_number(phonenumbers.parse(ph, "CN")), ph
    # every configured prefix is valid for phonenumbers
    for prefix, _ in synth._PHONE_PREFIXES:
        for suffix in ("00000000", "12345678", "99999999"):
            assert phonenumbers.is_valid_number(phonenumbers.parse(f"{prefix}{suffix}", "CN"))


def _split_name(name: str) -> tuple[str, str]:
    if name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def _expected_pinyin(name: str) -> list[str]:
    surname, given = _split_name(name)
    override = SURNAME_READINGS.get(surname)
    syllables = list(override) if override else lazy_pinyin(surname, style=Style.NORMAL)
    return syllables + lazy_pinyin(given, style=Style.NORMAL)


def test_pinyin_matches_pypinyin():
    rows = _rows(1, 5000)
    for p in rows[:2000]:
        syllables = _expected_pinyin(p.name)
        assert p.name_pinyin == "".join(syllables), p.name
        assert p.name_initials == "".join(s[0] for s in syllables), p.name
        assert p.name_pinyin.isascii() and p.name_pinyin.islower()
        assert 2 <= len(p.name) <= 4


def test_compound_and_polyphonic_surnames():
    # Compound surnames are rare; look for them in a bigger sample.
    rows = _rows(3, 40000)
    compound = [p for p in rows if p.name[:2] in COMPOUND_SURNAMES]
    assert compound, "expected at least one compound surname in 40k rows"
    for p in compound:
        syllables = _expected_pinyin(p.name)
        assert p.name_pinyin == "".join(syllables)
        assert p.name_initials == "".join(s[0] for s in syllables)
        assert len(p.name_initials) == len(p.name)
    ouyang = [p for p in compound if p.name.startswith("欧阳")]
    assert ouyang and all(
        p.name_pinyin.startswith("ouyang") and p.name_initials.startswith("oy") for p in ouyang
    )
    # polyphonic single-character surnames use the surname reading
    tables = {s: (py, ini) for s, py, ini in synth._name_tables()[0]}
    assert tables["单"] == ("shan", "s")
    assert tables["曾"] == ("zeng", "z")
    assert tables["尉迟"] == ("yuchi", "yc")
    assert tables["欧阳"] == ("ouyang", "oy")
    assert tables["吕"] == ("lv", "l")


def test_given_name_pool_readings_are_context_free():
    # Composing per-character pinyin must equal pypinyin on the whole given name.
    _, _, male, female = synth._name_tables()
    chars = sorted({c for c, _, _ in male + female})[:60]
    reading = {c: py for c, py, _ in male + female}
    for a, b in itertools.product(chars, repeat=2):
        assert lazy_pinyin(a + b, style=Style.NORMAL) == [reading[a], reading[b]]


def test_households_and_distributions():
    rows = _rows(1, 5000)
    households: dict[str, list[PersonRow]] = {}
    for p in rows:
        households.setdefault(p.household_key, []).append(p)
    sizes = Counter(len(v) for v in households.values())
    assert set(sizes) <= {1, 2, 3, 4, 5}
    for key, members in households.items():
        assert len({m.address for m in members}) == 1
        assert len({m.grid_code for m in members}) == 1
        assert key.startswith(members[0].grid_code)
        assert len({m.category for m in members} - {"key"}) <= 1
        # every household has an adult
        assert any((REFERENCE_DATE - m.birth_date).days >= 18 * 365 for m in members)
    # members of a household are contiguous in the output
    keys = [k for k, _ in itertools.groupby(p.household_key for p in rows)]
    assert len(keys) == len(households)

    n = len(rows)
    cat = Counter(p.category for p in rows)
    assert 0.78 < cat["resident"] / n < 0.92
    assert 0.08 < cat["floating"] / n < 0.18
    assert 0.005 < cat["key"] / n < 0.04
    id_types = Counter(p.id_type for p in rows)
    assert id_types["none"] / n < 0.04
    assert id_types["passport"] / n < 0.02
    tagged = sum(1 for p in rows if p.key_groups) / n
    assert 0.02 < tagged < 0.09
    sexes = Counter(p.sex for p in rows)
    assert abs(sexes["male"] - sexes["female"]) < 0.1 * n
    ages = [(REFERENCE_DATE.year - p.birth_date.year) for p in rows]
    assert min(ages) <= 2 and max(ages) >= 85
    assert all(isinstance(p.birth_date, datetime.date) for p in rows[:10])


def test_surname_frequencies_plausible():
    rows = _rows(1, 5000)
    surnames = Counter(_split_name(p.name)[0] for p in rows)
    top = [s for s, _ in surnames.most_common(5)]
    assert {"王", "李", "张"} <= set(top)


def test_edge_cases():
    assert list(persons(1, 0, ["330122001001001"], {})) == []
    with pytest.raises(ValueError):
        list(persons(1, 5, [], {}))
    rows = list(persons(1, 7, ["330122001001001"], {}))
    assert len(rows) == 7
    assert all(p.address.startswith(COUNTY_NAME) for p in rows)


def test_generated_pinyin_equals_the_registration_rule():
    """A demo person is found by the same keys a person registered on the page gets."""
    from fangyi.people.pinyin import name_pinyin

    for row in _rows(3, 3000):
        assert name_pinyin(row.name) == (row.name_pinyin, row.name_initials), row.name
