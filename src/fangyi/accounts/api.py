from ninja import Router, Schema

router = Router(tags=["me"])


class MeOut(Schema):
    id: int
    username: str
    name: str
    organisation: str | None
    region: int | None
    region_name: str | None
    roles: list[str]
    capabilities: list[str]


@router.get("/me", response=MeOut)
def me(request):
    user = request.user
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.get_full_name(),
        "organisation": user.organisation.name if user.organisation_id else None,
        "region": user.region_id,
        "region_name": user.region.full_name if user.region_id else None,
        "roles": sorted(r.code for r in user.roles.all()),
        "capabilities": sorted(user.capabilities()),
    }
