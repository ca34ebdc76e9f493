from fangyi.accounts.models import ApiToken, Role
from fangyi.core.models import ChangeLog


def change_form_data(user, **overrides) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-11-01",
        "date_joined_1": "08:00:00",
        "organisation": user.organisation_id or "",
        "region": user.region_id,
        "roles": [r.code for r in user.roles.all()],
    }
    return data | overrides


def test_admin_changes_to_a_user_are_kept_with_values(users, client_for):
    admin = client_for("county_admin")
    target = users["grid_a1"]
    response = admin.post(
        f"/admin/accounts/user/{target.pk}/change/",
        change_form_data(target, roles=["grid_worker", "school_doctor"], is_active=""),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = ChangeLog.objects.get(object_id=str(target.pk), action=ChangeLog.Action.UPDATE)
    assert entry.actor == users["county_admin"]
    assert entry.changes["is_active"] == ["True", "False"]
    assert entry.changes["roles"][1] == "校医、网格员"
    assert set(entry.changes) == {"is_active", "roles"}


def test_password_change_is_recorded_without_the_hash(users, client_for):
    target = users["grid_b1"]
    client_for("county_admin").post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"password1": "Another-pass-2026", "password2": "Another-pass-2026"},
    )
    entry = ChangeLog.objects.get(object_id=str(target.pk))
    assert entry.changes == {"password": ["", "******"]}


def test_admin_creates_a_token_for_a_user_and_sees_it_once(users, client_for):
    response = client_for("county_admin").post(
        "/admin/accounts/apitoken/add/",
        {"user": users["lab_staff"].pk, "name": "LIS"},
        follow=True,
    )
    token = ApiToken.objects.get(user=users["lab_staff"])
    page = response.content.decode()
    raw = page.split("：fy_")[1].split("<")[0]
    assert token.created_by == users["county_admin"]
    from django.test import Client

    me = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer fy_{raw}").json()
    assert me["username"] == "lab_staff"


def test_every_role_is_seeded(db):
    from fangyi.accounts.roles import RoleCode

    assert set(Role.objects.values_list("code", flat=True)) == set(RoleCode.values)
