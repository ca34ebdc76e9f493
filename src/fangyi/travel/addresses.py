"""Free-text Chinese addresses to GB/T 2260 codes, with `cpca` (chinese_province_city_area_
mapper): an Aho-Corasick matcher over the national division list that fills in the province
and city a district implies ("武汉江汉区" → 湖北省武汉市江汉区, 420103).

Its list dates from 2019; a district created since resolves to its city, and a city-level
risk area still matches it. Risk areas and stays go through the same resolver, so the two
sides always speak the same codes. What cpca cannot settle we report instead of guessing:
no place at all, or a bare district name that several cities share (朝阳区: Beijing or
Changchun), which cpca would otherwise assign silently.
"""

import re
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import cache

from django.utils.translation import gettext_lazy as _

from fangyi.core.rules import lazy_format

with warnings.catch_warnings():  # cpca imports pkg_resources, which warns of its own end
    warnings.simplefilter("ignore")
    import cpca

MUNICIPAL_DISTRICTS = "市辖区"  # cpca's "city" of Beijing, Shanghai, Tianjin, Chongqing
# Below the district: a street/town/township, then often a compound or village.
LOCAL_UNIT = re.compile(r"^(.*?(?:街道|镇|乡|苏木))(.*)$")


@dataclass(frozen=True)
class Resolution:
    address: str
    adcode: str  # six digits; "" when nothing could be resolved
    province: str
    city: str
    district: str
    detail: str  # the rest of the address, below the district
    ambiguous: bool = False

    @property
    def resolved(self) -> bool:
        return bool(self.adcode) and not self.ambiguous

    @property
    def region_name(self) -> str:
        city = "" if self.city in (MUNICIPAL_DISTRICTS, self.province) else self.city
        return f"{self.province}{city}{self.district}"

    @property
    def scale(self) -> str:
        """The smallest unit named: province, city, district or locality (AreaScale)."""
        if self.detail and self.district:
            return "locality"
        if self.district:
            return "district"
        if self.city and self.city != MUNICIPAL_DISTRICTS:
            return "city"
        return "province"  # 北京市 alone is the whole municipality

    @property
    def problem(self):
        """Why this address cannot be used, in the reader's language; "" when it can."""
        if not self.adcode:
            return _("无法识别该地址，请写明省、市、区县。")
        if self.ambiguous:
            return lazy_format(
                _("“%(district)s”有多处同名，请写明所属省、市。"), district=self.district
            )
        return ""

    @property
    def locality(self) -> str:
        """The smallest named place below the district, matched inside stay addresses: the
        compound when one follows the street (望京街道望京西园三区 → 望京西园三区), else the
        street or town itself."""
        detail = self.detail.strip()
        match = LOCAL_UNIT.match(detail)
        if match and match.group(2).strip():
            return match.group(2).strip()
        return detail


@cache
def _district_name_counts() -> Counter:
    return Counter(info.name for info in cpca.ad_2_addr_dict.values() if info.rank == 2)


def _text(value) -> str:
    return value if isinstance(value, str) else ""  # pandas gives NaN for a missing part


def resolve_many(addresses: list[str]) -> list[Resolution]:
    """Resolve a batch in one pass of the matcher (thousands per second)."""
    cleaned = ["".join((a or "").split()) for a in addresses]
    if not cleaned:
        return []
    frame = cpca.transform(cleaned, pos_sensitive=True)
    shared = _district_name_counts()
    results = []
    for address, row in zip(cleaned, frame.itertuples(index=False), strict=True):
        province, city, district, detail, adcode, p_pos, c_pos, _d_pos = row
        province, city, district = _text(province), _text(city), _text(district)
        inferred = p_pos == -1 and c_pos == -1
        results.append(
            Resolution(
                address=address,
                adcode=_text(adcode)[:6] if province else "",
                province=province,
                city=city,
                district=district,
                detail=_text(detail).strip(),
                ambiguous=bool(district) and inferred and shared[district] > 1,
            )
        )
    return results


def resolve(address: str) -> Resolution:
    return resolve_many([address])[0]


def name_of(adcode: str) -> str:
    """The full name of a six-digit code: 420103 → 湖北省武汉市江汉区."""
    parts = []
    for length in (2, 4, 6):
        info = cpca.ad_2_addr_dict.get(adcode[:length].ljust(12, "0"))
        if info is not None and info.name not in parts and info.name != MUNICIPAL_DISTRICTS:
            parts.append(info.name)
    return "".join(parts)
