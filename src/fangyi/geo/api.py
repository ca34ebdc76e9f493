from ninja import Router, Schema

from fangyi.geo.models import Region

router = Router(tags=["regions"])


class RegionOut(Schema):
    id: int
    code: str
    name: str
    full_name: str
    level: str
    parent: int | None


@router.get("/regions", response=list[RegionOut])
def list_regions(request, level: Region.Level | None = None):
    """The regions inside the caller's jurisdiction, parents before children."""
    regions = Region.objects.visible_to(request.user)
    if level:
        regions = regions.filter(level=level)
    return [
        {**r, "parent": r.pop("parent_id")}
        for r in regions.values("id", "code", "name", "full_name", "level", "parent_id")
    ]
