"""Deterministic synthetic data for the demo county: region tree and persons.

Everything here is pure Python and framework-free. All randomness comes from
``random.Random`` instances seeded from the caller's seed, so the same seed
always yields byte-identical output (no global random state, no clock, no uuid).

The person generator is written for throughput (one million rows in a few
seconds): lookup tables (pinyin of every pool character, ID-number check-digit
partial sums, birth-date strings) are computed once per call and rows are
assembled from them with a handful of ``random()`` calls each.
"""

from __future__ import annotations

import datetime
import functools
import random
from bisect import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from fangyi.people.pinyin import SURNAME_READINGS

# Real GB/T 2260 code (Tonglu County, Hangzhou). It carries no validity period
# in python-stdnum's cn/loc database, so IDs with this code validate for every
# birth year. (330110 was tried first but is only valid from 2001 on.)
COUNTY_CODE = "330122"
# Fictional name of the demo county (not the real county of the code).
COUNTY_NAME = "云溪县"

# "Today" for the synthetic population; ages are computed against this date so
# the output does not depend on the clock.
REFERENCE_DATE = datetime.date(2025, 6, 30)
MAX_AGE = 95

# Real county codes with no validity limits in stdnum's cn/loc database (valid
# for any birth year): birthplaces of people not born in the demo county.
# Note: no Henan county code in that database is valid for all of 1929-2025.
OTHER_BIRTHPLACE_CODES: tuple[str, ...] = (
    "330127",  # Zhejiang, Chun'an
    "340121",  # Anhui, Changfeng
    "340421",  # Anhui, Fengtai
    "340621",  # Anhui, Suixi
    "360121",  # Jiangxi, Nanchang County
    "422822",  # Hubei, Jianshi
    "422823",  # Hubei, Badong
    "422825",  # Hubei, Xuan'en
    "422826",  # Hubei, Xianfeng
    "430121",  # Hunan, Changsha County
    "430321",  # Hunan, Xiangtan County
    "433122",  # Hunan, Luxi
    "433127",  # Hunan, Yongshun
    "510121",  # Sichuan, Jintang
    "510321",  # Sichuan, Rong County
    "510421",  # Sichuan, Miyi
    "513423",  # Sichuan, Yanyuan
    "513424",  # Sichuan, Dechang
    "513433",  # Sichuan, Mianning
    "522622",  # Guizhou, Huangping
    "522625",  # Guizhou, Zhenyuan
    "522627",  # Guizhou, Tianzhu
    "522631",  # Guizhou, Liping
    "522723",  # Guizhou, Guiding
    "522725",  # Guizhou, Weng'an
    "530124",  # Yunnan, Fumin
    "532923",  # Yunnan, Xiangyun
    "532924",  # Yunnan, Binchuan
    "610323",  # Shaanxi, Qishan
    "610324",  # Shaanxi, Fufeng
    "610326",  # Shaanxi, Mei County
)

KEY_GROUPS: tuple[str, ...] = (
    "medical_staff",
    "cold_chain",
    "port_worker",
    "teacher",
    "delivery",
    "public_transport",
    "market_vendor",
)


# --------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    level: str  # "county" | "township" | "village" | "grid"
    parent_code: str | None
    kind: str  # township: "town"/"street"; village: "village"/"community"; else ""


@dataclass(frozen=True, slots=True)
class PersonRow:
    name: str
    name_pinyin: str
    name_initials: str
    id_type: str  # "resident_id" | "passport" | "none"
    id_number: str
    sex: str  # "male" | "female"
    birth_date: datetime.date
    phone: str
    address: str
    grid_code: str
    household_key: str
    category: str  # "resident" | "floating" | "key"
    key_groups: tuple[str, ...]
    workplace: str


# --------------------------------------------------------------------------
# Region tree
# --------------------------------------------------------------------------

# Curated township stems; random syllable combinations are used when exhausted.
_TOWN_STEMS = [
    "青石",
    "柳溪",
    "河东",
    "新桥",
    "白沙",
    "凤山",
    "龙泉",
    "石门",
    "桃源",
    "梅林",
    "清水",
    "黄泥",
    "双溪",
    "金竹",
    "松林",
    "大桥",
    "南山",
    "北岭",
    "东湖",
    "西塘",
    "古城",
    "横溪",
    "三江",
    "百步",
    "瑶溪",
    "分水",
    "钟山",
    "合岭",
    "莪山",
    "江南",
    "富春",
    "凤川",
]
_STREET_STEMS = [
    "城关",
    "城东",
    "城南",
    "城西",
    "城北",
    "文昌",
    "凤鸣",
    "望江",
    "锦溪",
    "江滨",
    "迎春",
    "云溪",
]
_SYL_A = "青白石柳梅桃龙凤金松竹杨东西南北新古上下大高双黄红清云花樟枫茶岩沙马鹤莲"
_SYL_B = "溪桥山岭塘湾坑坪口岙浦埠林园源港头庄坝田湖洲泉峰坞畈垟阳川渡"
_VILLAGE_SURNAMES = "王李张刘陈杨黄赵吴周徐孙朱胡郭何林高罗郑叶程方钱"
_COMMUNITY_WORDS = [
    "文化",
    "朝阳",
    "新华",
    "幸福",
    "和平",
    "光明",
    "春晖",
    "锦绣",
    "金桥",
    "滨江",
    "翠苑",
    "桂花",
    "紫荆",
    "丹枫",
    "东园",
    "西苑",
    "南门",
    "北门",
    "望湖",
    "清风",
    "明月",
    "阳光",
    "学府",
    "碧水",
    "绿洲",
    "怡景",
    "嘉禾",
    "兴旺",
    "长安",
    "康乐",
    "惠民",
    "振兴",
    "建设",
    "人民",
    "胜利",
    "团结",
    "红星",
    "育才",
    "府前",
    "鼓楼",
    "钟楼",
    "书院",
    "青年",
    "东方",
    "华苑",
    "凤凰",
    "玉泉",
    "龙山",
]


def _unique_name(rng: random.Random, used: set[str], candidates, make) -> str:
    """Pick an unused name: first from ``candidates`` (in random order), then from ``make()``."""
    pool = [c for c in candidates if c not in used]
    if pool:
        name = pool[int(rng.random() * len(pool))]
        used.add(name)
        return name
    for attempt in range(10_000):
        name = make(attempt)
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("name pool exhausted")  # pragma: no cover


def region_tree(
    seed: int, townships: int = 10, villages_per_township: int = 10
) -> list[RegionSpec]:
    """Build the demo county's region tree, parents before children.

    About 40% of the townships are urban streets (街道, with communities 社区),
    the rest towns (镇, and roughly a third 乡) with mostly villages (村) and one
    or two communities at the town seat. Each village/community gets 2-4 grids.
    Codes follow GB/T 2260 / GB/T 10114 conventions: streets 001-099, towns
    100-199, 乡 200-299; communities 001-199, villages 200-399 (plus 3 more
    digits for grids).
    """
    if townships < 1 or villages_per_township < 1:
        raise ValueError("townships and villages_per_township must be >= 1")
    rng = random.Random(seed)
    rnd = rng.random
    out: list[RegionSpec] = [RegionSpec(COUNTY_CODE, COUNTY_NAME, "county", None, "")]

    n_streets = round(townships * 0.4)
    n_towns = townships - n_streets
    n_xiang = n_towns // 3  # the last towns are 乡 (rural townships)

    used_stems: set[str] = {COUNTY_NAME[:2], ""}
    used_names: set[str] = {""}  # villages and communities, unique county-wide

    def syllable_stem(attempt: int) -> str:
        a = _SYL_A[int(rnd() * len(_SYL_A))]
        b = _SYL_B[int(rnd() * len(_SYL_B))]
        if a == b:
            return ""  # rejected by _unique_name (empty names are pre-marked as used)
        if attempt > 2000:
            return a + b + _SYL_B[attempt % len(_SYL_B)]
        return a + b

    def village_stem(attempt: int) -> str:
        if rnd() < 0.3:
            s = _VILLAGE_SURNAMES[int(rnd() * len(_VILLAGE_SURNAMES))]
            b = _SYL_B[int(rnd() * len(_SYL_B))]
            return "" if s == b else s + "家" + b
        return syllable_stem(attempt)

    def community_stem(attempt: int) -> str:
        w = _COMMUNITY_WORDS[int(rnd() * len(_COMMUNITY_WORDS))]
        if attempt > 500:
            return w + syllable_stem(attempt)
        u = rnd()
        if u < 0.4:
            return w
        suffix = ("新村", "花园", "家园", "路", "里")[int(rnd() * 5)]
        return "" if w[-1] == suffix[0] else w + suffix

    for t in range(townships):
        if t < n_streets:
            stem = _unique_name(rng, used_stems, _STREET_STEMS, syllable_stem)
            code = f"{COUNTY_CODE}{t + 1:03d}"
            name, kind = stem + "街道", "street"
        elif t < townships - n_xiang:
            stem = _unique_name(rng, used_stems, _TOWN_STEMS, syllable_stem)
            code = f"{COUNTY_CODE}{100 + t - n_streets + 1:03d}"
            name, kind = stem + "镇", "town"
        else:
            stem = _unique_name(rng, used_stems, _TOWN_STEMS, syllable_stem)
            code = f"{COUNTY_CODE}{200 + t - (townships - n_xiang) + 1:03d}"
            name, kind = stem + "乡", "town"
        out.append(RegionSpec(code, name, "township", COUNTY_CODE, kind))

        count = max(1, round(villages_per_township * (0.8 + 0.4 * rnd())))
        if kind == "street":
            n_comm = count
        else:
            n_comm = 1 if (count < 8 or rnd() < 0.5) else 2
            n_comm = min(n_comm, count)
        for v in range(count):
            if v < n_comm:
                if kind == "town" and v == 0 and stem + "社区" not in used_names:
                    vname = stem + "社区"  # the town-seat community
                    used_names.add(vname)
                else:
                    vname = _unique_name(rng, used_names, [], community_stem) + "社区"
                vcode, vkind = f"{code}{v + 1:03d}", "community"
            else:
                vname = _unique_name(rng, used_names, [], village_stem) + "村"
                vcode, vkind = f"{code}{200 + v - n_comm + 1:03d}", "village"
            out.append(RegionSpec(vcode, vname, "village", code, vkind))
            for g in range(2 + int(rnd() * 3)):
                out.append(
                    RegionSpec(f"{vcode}{g + 1:03d}", f"{vname}第{g + 1}网格", "grid", vcode, "")
                )
    return out


def grid_addresses(regions: Sequence[RegionSpec]) -> dict[str, str]:
    """Map each grid code to its address prefix: township name + village/community name."""
    by_code = {r.code: r for r in regions}
    out: dict[str, str] = {}
    for r in regions:
        if r.level != "grid":
            continue
        village = by_code.get(r.parent_code or "")
        township = by_code.get(village.parent_code or "") if village else None
        out[r.code] = (township.name if township else "") + (village.name if village else "")
    return out


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------

# Surname and weight (approximate share of the population in units of 0.01%).
_SURNAME_WEIGHTS = (
    "王712 李700 张674 刘510 陈461 杨322 黄245 赵219 吴205 周189 徐166 孙154 马147 朱145 "
    "胡138 郭129 何122 林118 高116 罗115 郑106 梁101 谢86 宋84 唐82 许76 韩74 冯73 邓72 "
    "曹71 彭69 曾66 肖65 田62 董60 袁58 潘57 于56 蒋55 蔡54 余53 杜52 叶51 程50 苏49 魏48 "
    "吕47 丁46 任45 沈44 姚43 卢42 姜41 崔40 钟39 谭38 陆37 汪36 范35 金34 石33 廖32 贾31 "
    "夏30 韦29 付28 方27 白26 邹25 孟24 熊23 秦22 邱21 江20 尹19 薛18 闫17 段16 雷15 侯14 "
    "龙13 史12 陶11 黎10 贺10 顾9 毛9 郝8 龚8 邵7 万7 钱7 严6 覃6 武6 戴6 莫5 孔5 向5 汤4 "
    "常4 单3 解3 仇2 朴2 区2 查2 盖2 "
    "欧阳4 司马2 诸葛2 上官2 司徒2 尉迟1 东方1 皇甫1 令狐1 慕容1 长孙1"
)
# Given-name characters (each has a single reading in names; checked so that
# pypinyin reads every two-character combination as the concatenation of the
# single-character readings).
_GIVEN_MALE = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳东亮成峰建国志海文博兵立新晨"
    "振宏毅坤锋彬晖瑞栋鸿豪睿哲翔轩泽昊然天子皓铭弘致远思源德福荣贵生春庆永祥发才忠义仁信诚武"
    "铁虎彪雄君良松森桂梁铮钧锐钊镇岩峻崇嵩山川江河渊泉洋淼浚洪沛旺盛兴隆昌裕丰祯祺禄寿康安泰"
    "和顺利民友谦光耀勤力金银宝中正卫彦诺逸骏宸煜琛恒晗胤钦焕炳灿烨晋炎啸腾骁勋楠桐枫柯杭楷锦"
    "鹤洲航舟凡昕朗"
)
_GIVEN_FEMALE = (
    "芳娜敏静丽艳娟霞秀英玲兰萍红梅莉燕琳颖婷雪慧倩洁琴云莹菲瑶怡欣悦妍涵馨雅琪璐蕾薇萱彤婉婧"
    "媛娅妮娴姗嫣岚黛翠珍珠玉瑾瑜璇瑛琼琦珊蓉荷莲菊蕊芬芝茜茹莎蓓萌凤鹃秋冬晓月霜虹彩丹青碧素"
    "淑惠贤美好佳宜诗韵梦晴香娥婕娇姝蕙芸芊苗蔚冰清澜汐沁灵巧珂贞曼熙琬歆"
)
_GIVEN_NEUTRAL = "小嘉一雨心星辰语梓依紫家晓文佳欣安宁海金永春华"


# (surname, pinyin, initials) triples, cumulative weights, and given-name pools
# of (char, pinyin, initial) per sex.
@functools.cache
def _name_tables():
    from pypinyin import Style, lazy_pinyin

    surnames = []
    weights = []
    for item in _SURNAME_WEIGHTS.split():
        chars = item.rstrip("0123456789")
        syllables = SURNAME_READINGS.get(chars) or tuple(lazy_pinyin(chars, style=Style.NORMAL))
        surnames.append((chars, "".join(syllables), "".join(s[0] for s in syllables)))
        weights.append(int(item[len(chars) :]))

    def pool(chars: str):
        seen: dict[str, None] = dict.fromkeys(chars)
        out = []
        for c in seen:
            py = lazy_pinyin(c, style=Style.NORMAL)[0]
            out.append((c, py, py[0]))
        return tuple(out)

    male = pool(_GIVEN_MALE + _GIVEN_NEUTRAL)
    female = pool(_GIVEN_FEMALE + _GIVEN_NEUTRAL)
    return tuple(surnames), tuple(accumulate(weights)), male, female


# --------------------------------------------------------------------------
# Workplaces
# --------------------------------------------------------------------------

_C = COUNTY_NAME
_GROUP_WORKPLACES: dict[str, tuple[str, ...]] = {
    "medical_staff": (
        f"{_C}人民医院",
        f"{_C}中医院",
        f"{_C}第二人民医院",
        f"{_C}妇幼保健院",
        f"{_C}疾病预防控制中心",
        f"{_C}城区社区卫生服务中心",
        f"{_C}急救中心",
        f"{_C}第三人民医院",
    ),
    "cold_chain": (
        "浙西冷链物流有限公司",
        "鲜达冷链仓储有限公司",
        f"{_C}农产品冷库",
        "恒冻食品有限公司",
        "云溪海鲜冷冻批发部",
    ),
    "port_worker": ("云溪港务有限公司", "江滨集装箱码头", f"{_C}内河码头", "云溪物流港"),
    "teacher": (
        f"{_C}第一中学",
        f"{_C}第二中学",
        f"{_C}实验小学",
        f"{_C}职业技术学校",
        f"{_C}机关幼儿园",
        f"{_C}第二实验小学",
        f"{_C}城南中学",
    ),
    "delivery": ("顺达快递云溪网点", f"{_C}邮政分公司", "云溪同城配送中心", "速达外卖配送站"),
    "public_transport": (
        f"{_C}公共交通有限公司",
        f"{_C}汽车客运站",
        f"{_C}出租汽车有限公司",
        "云溪城乡公交公司",
    ),
    "market_vendor": (
        f"{_C}中心农贸市场",
        "云溪东门农贸市场",
        f"{_C}水产批发市场",
        f"{_C}蔬菜批发市场",
        "云溪城南菜市场",
    ),
}
_GROUP_CUM = tuple(accumulate((8, 5, 3, 9, 8, 4, 7)))  # relative weights of KEY_GROUPS
_COMPANY_STEMS = [
    "恒达",
    "华美",
    "金鼎",
    "瑞丰",
    "宏远",
    "新光",
    "永盛",
    "鑫源",
    "天成",
    "利民",
    "盛泰",
    "佳禾",
    "富春",
    "云溪",
    "江南",
    "众诚",
]
_COMPANY_KINDS = [
    "纺织有限公司",
    "机械制造有限公司",
    "电子科技有限公司",
    "建材有限公司",
    "食品有限公司",
    "服装有限公司",
    "家具有限公司",
    "建筑工程有限公司",
    "超市",
    "商贸有限公司",
    "汽车维修厂",
    "茶业合作社",
    "竹木制品厂",
    "农业开发有限公司",
    "印刷有限公司",
    "塑料制品有限公司",
]
_PUBLIC_WORKPLACES = (
    f"{_C}人民政府",
    f"{_C}公安局",
    f"{_C}税务局",
    f"{_C}农村商业银行",
    f"{_C}供电公司",
    f"{_C}自来水公司",
    f"{_C}市场监督管理局",
    f"{_C}融媒体中心",
)
_RESIDENTIAL_COMPOUNDS = [
    "锦绣花园",
    "阳光小区",
    "金桥苑",
    "翠竹苑",
    "桂花园",
    "紫荆苑",
    "江景湾",
    "学府名苑",
    "东方明珠苑",
    "和谐家园",
    "书香门第",
    "春江花月",
    "滨江花城",
    "绿城百合苑",
    "凤凰城",
    "梅园新村",
    "丹桂苑",
    "玉兰苑",
    "瑞景苑",
    "怡和家园",
]


def _workplace_pool(rng: random.Random) -> tuple[str, ...]:
    names = [a + b for a in _COMPANY_STEMS for b in _COMPANY_KINDS]
    rng.shuffle(names)
    return tuple(names[:120]) + _PUBLIC_WORKPLACES


# --------------------------------------------------------------------------
# Persons
# --------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # indexed by (weighted sum of the 17 digits) % 11


def id_check_char(body17: str) -> str:
    """Check character of an 18-char resident ID given its first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def _weighted_sum(digits: str, start: int) -> int:
    return sum(int(c) * _ID_WEIGHTS[start + i] for i, c in enumerate(digits))


_SEQ_TABLE = tuple((f"{s:03d}", _weighted_sum(f"{s:03d}", 14)) for s in range(1000))

# Mobile prefixes (all 10**8 suffixes valid for phonenumbers, region CN) and weights.
_PHONE_PREFIXES = (
    (130, 4), (131, 4), (132, 4), (133, 3), (134, 3), (135, 6), (136, 6), (137, 6), (138, 7),
    (139, 7), (147, 1), (150, 4), (151, 4), (152, 4), (153, 3), (155, 3), (156, 3), (157, 3),
    (158, 4), (159, 4), (166, 1), (170, 1), (171, 1), (173, 1), (176, 1), (177, 1), (178, 1),
    (180, 2), (181, 2), (182, 2), (183, 2), (184, 1), (185, 2), (186, 3), (187, 3), (188, 3),
    (189, 3), (191, 1), (198, 2), (199, 2),
)  # fmt: skip

# Household sizes 1..5 (cumulative weights, per household).
_HH_SIZE_RESIDENT = tuple(accumulate((24, 30, 22, 13, 11)))
_HH_SIZE_FLOATING = tuple(accumulate((38, 30, 21, 9, 2)))
_P_FLOATING_HH = 0.155  # -> ~13% of persons (floating households are smaller)
_P_KEY_BASE = 0.015
_P_KEY_TAGGED = 0.10
_P_TAG_ADULT = 0.085  # of ages 20-60 -> ~5% of all persons
_P_NO_ID_UNDER3 = 0.3  # -> ~1.5% of persons without any ID
_P_PASSPORT = 0.005

# Address layout of a community building: 3 units x 11 floors x 2 flats.
_FLATS_PER_BUILDING = 66


@functools.cache
def _date_tables() -> tuple[int, tuple[datetime.date, ...], tuple[str, ...], tuple[int, ...]]:
    """Birth-date lookup tables indexed by ``ordinal - base``, up to REFERENCE_DATE.

    Returns (base ordinal, date objects, "YYYYMMDD" strings, check-digit partial
    sums). Starts 400 days before the oldest possible birth date so that the
    order-code overflow handling (moving a birth date a day earlier) has room.
    """
    ref_ord = REFERENCE_DATE.toordinal()
    base_ord = ref_ord - int((MAX_AGE + 1) * 365.2425) - 400
    w = _ID_WEIGHTS[6:14]
    objs, strs, sums = [], [], []
    for o in range(base_ord, ref_ord + 1):
        d = datetime.date.fromordinal(o)
        y, m, dd = d.year, d.month, d.day
        objs.append(d)
        strs.append(f"{y:04d}{m:02d}{dd:02d}")
        sums.append(
            w[0] * (y // 1000) + w[1] * (y // 100 % 10) + w[2] * (y // 10 % 10) + w[3] * (y % 10)
            + w[4] * (m // 10) + w[5] * (m % 10) + w[6] * (dd // 10) + w[7] * (dd % 10)
        )  # fmt: skip
    return base_ord, tuple(objs), tuple(strs), tuple(sums)


def persons(
    seed: int,
    n: int,
    grid_codes: Sequence[str],
    grid_addresses: Mapping[str, str],
) -> Iterator[PersonRow]:
    """Yield ``n`` synthetic persons living in the given grids, household by household.

    ``grid_addresses`` maps a grid code to its address prefix (township + village
    or community name; see :func:`grid_addresses`). A prefix ending in 社区 gets
    flat-style addresses, anything else village-style ones.
    """
    if n <= 0:
        return
    if not grid_codes:
        raise ValueError("grid_codes must not be empty")
    grid_codes = list(grid_codes)
    # Instance seeded from the caller's seed (string seeds hash deterministically).
    rng = random.Random(f"fangyi-persons:{seed}")
    r = rng.random

    surnames, surname_cum, male_pool, female_pool = _name_tables()
    surname_total = surname_cum[-1]
    n_male, n_female = len(male_pool), len(female_pool)

    # Grids: weight, address prefix and layout.
    grid_cum = list(
        accumulate(
            (0.6 + 0.8 * r()) * (1.3 if grid_addresses.get(g, "").endswith("社区") else 1.0)
            for g in grid_codes
        )
    )
    grid_total = grid_cum[-1]
    grid_prefix = []
    grid_is_flat = []
    grid_no = []
    for i, g in enumerate(grid_codes):
        prefix = grid_addresses.get(g) or COUNTY_NAME
        flat = prefix.endswith("社区")
        grid_is_flat.append(flat)
        tail = g[-3:]
        grid_no.append(int(tail) if tail.isdigit() and int(tail) > 0 else i + 1)
        if flat:
            prefix += _RESIDENTIAL_COMPOUNDS[int(r() * len(_RESIDENTIAL_COMPOUNDS))]
        grid_prefix.append(prefix)
    grid_households = [0] * len(grid_codes)

    workplaces = _workplace_pool(rng)
    n_workplaces = len(workplaces)
    group_workplaces = tuple(_GROUP_WORKPLACES[g] for g in KEY_GROUPS)
    group_total = _GROUP_CUM[-1]

    # Birth-place codes with their check-digit partial sums. Index 0 is local.
    region_codes = (COUNTY_CODE, *OTHER_BIRTHPLACE_CODES)
    region_sums = tuple(_weighted_sum(c, 0) for c in region_codes)
    n_other = len(OTHER_BIRTHPLACE_CODES)

    # Birth dates by day index (ordinal - base): date object, YYYYMMDD, partial sum.
    base_ord, date_objs, date_strs, date_sums = _date_tables()
    ref_ord = REFERENCE_DATE.toordinal()
    ref_idx = ref_ord - base_ord
    seq_table = _SEQ_TABLE
    check_chars = _ID_CHECK
    id_counters: dict[int, int] = {}

    phone_cum = tuple(accumulate(w for _, w in _PHONE_PREFIXES))
    phone_total = phone_cum[-1]
    phone_prefixes = tuple(p * 100_000_000 for p, _ in _PHONE_PREFIXES)
    used_phones: set[int] = set()
    used_passports: set[int] = set()

    def surname_idx() -> int:
        return bisect(surname_cum, r() * surname_total)

    def other_region() -> int:
        return 1 + int(r() * n_other)

    produced = 0
    while produced < n:
        # ---- household: grid, address, composition -------------------------
        gi = bisect(grid_cum, r() * grid_total)
        if gi >= len(grid_codes):  # pragma: no cover - float edge case
            gi = len(grid_codes) - 1
        grid = grid_codes[gi]
        h = grid_households[gi]
        grid_households[gi] = h + 1
        household_key = f"{grid}{h + 1:04d}"
        if grid_is_flat[gi]:
            k = h % _FLATS_PER_BUILDING
            floor_flat = k % 22
            address = (
                f"{grid_prefix[gi]}{h // _FLATS_PER_BUILDING + 1}幢{k // 22 + 1}单元"
                f"{floor_flat // 2 + 1}{floor_flat % 2 + 1:02d}室"
            )
        else:
            address = f"{grid_prefix[gi]}{(grid_no[gi] - 1) * 3 + h % 3 + 1}组{h // 3 + 1}号"

        floating = r() < _P_FLOATING_HH
        size = 1 + bisect(_HH_SIZE_FLOATING if floating else _HH_SIZE_RESIDENT, r() * 100)
        members = _compose_household(r, size, floating)
        if produced + len(members) > n:
            members = members[: n - produced]
        produced += len(members)

        # Birthplace of the family and surname of its head.
        # (floating: born elsewhere; resident: 95% born locally)
        home = other_region() if floating or r() >= 0.95 else 0
        family_surname = surname_idx()
        category_default = "floating" if floating else "resident"

        for role, male, age in members:
            # ---- name --------------------------------------------------------
            if role == _SPOUSE or (role == _ELDER and not male):
                si = surname_idx()  # married-in: own family's surname
            elif role == _CHILD and r() < 0.05:
                si = surname_idx()  # child carrying the mother's surname
            else:
                si = family_surname
            s_chars, s_py, s_ini = surnames[si]
            if male:
                c1 = male_pool[int(r() * n_male)]
                c2 = male_pool[int(r() * n_male)] if r() >= 0.2 else None
            else:
                c1 = female_pool[int(r() * n_female)]
                c2 = female_pool[int(r() * n_female)] if r() >= 0.2 else None
            if c2 is None:
                name = s_chars + c1[0]
                name_pinyin = s_py + c1[1]
                name_initials = s_ini + c1[2]
            else:
                name = s_chars + c1[0] + c2[0]
                name_pinyin = s_py + c1[1] + c2[1]
                name_initials = s_ini + c1[2] + c2[2]

            # ---- birth date --------------------------------------------------
            di = ref_idx - int((age + r()) * 365.2425)
            if di > ref_idx:  # pragma: no cover - defensive
                di = ref_idx

            # ---- identity document -------------------------------------------
            if age < 3 and r() < _P_NO_ID_UNDER3:
                id_type = "none"
                id_number = ""
            elif age >= 16 and r() < _P_PASSPORT:
                id_type = "passport"
                while True:
                    x = int(r() * 100_000_000)
                    if x not in used_passports:
                        used_passports.add(x)
                        break
                id_number = f"E{x:08d}"
            else:
                id_type = "resident_id"
                if role == _SPOUSE:
                    ri = (
                        (home if r() < 0.7 else other_region())
                        if floating
                        else (0 if r() < 0.82 else other_region())
                    )
                elif role == _CHILD and home and not floating:
                    ri = 0 if r() < 0.5 else home
                else:
                    ri = home
                # Unique order code per (birthplace, birth date, sex): up to 500
                # each; on overflow move the birth date one day earlier.
                sexbit = 1 if male else 0
                while True:
                    key = (((ri << 16) | di) << 1) | sexbit
                    used = id_counters.get(key, 0)
                    if used < 500:
                        id_counters[key] = used + 1
                        break
                    di -= 1
                seq_str, seq_sum = seq_table[
                    (((key * 2654435761) >> 9) % 500 * 2 + 2 * used) % 1000 + sexbit
                ]
                id_number = (
                    region_codes[ri]
                    + date_strs[di]
                    + seq_str
                    + check_chars[(region_sums[ri] + date_sums[di] + seq_sum) % 11]
                )

            # ---- phone ---------------------------------------------------------
            if age < 6 or (age < 14 and r() < 0.35) or (age >= 85 and r() < 0.3):
                phone = ""
            else:
                while True:
                    p = phone_prefixes[bisect(phone_cum, r() * phone_total)] + int(
                        r() * 100_000_000
                    )
                    if p not in used_phones:
                        used_phones.add(p)
                        break
                phone = str(p)

            # ---- work, key groups, category --------------------------------------
            key_groups: tuple[str, ...] = ()
            workplace = ""
            if 18 <= age < 65:
                if age >= 20 and age <= 60 and r() < _P_TAG_ADULT:
                    g = bisect(_GROUP_CUM, r() * group_total)
                    key_groups = (KEY_GROUPS[g],)
                    if r() < 0.08:
                        g2 = bisect(_GROUP_CUM, r() * group_total)
                        if g2 != g:
                            key_groups = (KEY_GROUPS[min(g, g2)], KEY_GROUPS[max(g, g2)])
                    places = group_workplaces[g]
                    workplace = places[int(r() * len(places))]
                elif r() < (0.72 if age < 60 else 0.25):
                    workplace = workplaces[int(r() * n_workplaces)]
            if r() < (_P_KEY_TAGGED if key_groups else _P_KEY_BASE):
                category = "key"
            else:
                category = category_default

            yield PersonRow(
                name,
                name_pinyin,
                name_initials,
                id_type,
                id_number,
                "male" if male else "female",
                date_objs[di],
                phone,
                address,
                grid,
                household_key,
                category,
                key_groups,
                workplace,
            )


# Household member roles.
_HEAD, _SPOUSE, _CHILD, _ELDER = 0, 1, 2, 3


def _uniform_int(r, lo: int, hi: int) -> int:
    """Integer in [lo, hi] from a ``random()`` callable."""
    return lo + int(r() * (hi - lo + 1))


def _compose_household(r, size: int, floating: bool) -> list[tuple[int, bool, int]]:
    """Members of one household as (role, male, age), head first."""
    ui = _uniform_int
    if size == 1:
        if floating:
            age = ui(r, 18, 50)
        else:
            u = r()
            age = ui(r, 20, 35) if u < 0.3 else ui(r, 36, 59) if u < 0.55 else ui(r, 60, 92)
        return [(_HEAD, r() < 0.5, age)]

    if size == 2 and r() < 0.12:  # single parent with a child
        head_age = ui(r, 28, 55)
        return [(_HEAD, r() < 0.35, head_age), (_CHILD, r() < 0.52, _first_child_age(r, head_age))]

    # Couple-based household; the head is the husband.
    kids, elders = 0, 0
    if size == 2:
        if floating:
            head_age = ui(r, 22, 45)
        else:
            u = r()
            head_age = ui(r, 22, 35) if u < 0.25 else ui(r, 50, 72) if u < 0.85 else ui(r, 73, 90)
    elif size == 3:
        kids, head_age = 1, ui(r, 27, 60)
    elif size == 4:
        if r() < 0.6:
            kids, head_age = 2, ui(r, 30, 58)
        else:
            kids, elders, head_age = 1, 1, ui(r, 28, 52)
    else:
        u = r()
        if u < 0.5:
            kids, elders, head_age = 2, 1, ui(r, 30, 52)
        elif u < 0.8:
            kids, elders, head_age = 1, 2, ui(r, 28, 48)
        else:
            kids, head_age = 3, ui(r, 33, 58)

    spouse_age = max(18, min(MAX_AGE, head_age - ui(r, -2, 5)))
    members = [(_HEAD, True, head_age), (_SPOUSE, False, spouse_age)]
    if kids:
        # Oldest child first; siblings at least two years apart.
        age = max(2 * (kids - 1), _first_child_age(r, min(head_age, spouse_age)))
        members.append((_CHILD, r() < 0.52, age))
        for later in range(kids - 2, -1, -1):
            age = max(2 * later, age - ui(r, 2, 7))
            members.append((_CHILD, r() < 0.52, age))
    if elders:
        age = min(MAX_AGE, head_age + ui(r, 22, 33))
        if elders == 1:
            members.append((_ELDER, r() < 0.4, age))
        else:
            members.append((_ELDER, True, age))
            members.append((_ELDER, False, min(MAX_AGE, max(head_age + 18, age - ui(r, -2, 5)))))
    return members


def _first_child_age(r, parent_age: int) -> int:
    """Age of the oldest child: the parent was 23-36 at birth (when possible)."""
    hi = min(36, parent_age)
    if hi < 23:
        return _uniform_int(r, 0, 2)
    return parent_age - _uniform_int(r, 23, hi)
