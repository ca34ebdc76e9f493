from datetime import date

import pytest

from fangyi.core.models import ChangeLog
from fangyi.people.models import Person
from tests.builders import resident_id, with_wrong_check_digit


def form_data(users, username="grid_a1", **overrides):
    data = {
        "name": "欧阳晓东",
        "id_type": "resident_id",
        "id_number": resident_id(),
        "phone": "13912345678",
        "grid": users[username].region_id,
        "category": "resident",
        "address": "城东街道1幢101室",
        "nationality": "中国",
    }
    return data | overrides


def test_registering_a_person_derives_sex_and_birth_date(users, client_for):
    response = client_for("grid_a1").post("/persons/new/", form_data(users))
    person = Person.objects.get(name="欧阳晓东")
    assert response.status_code == 302 and response["Location"] == f"/persons/{person.pk}/"
    assert (person.sex, person.birth_date) == ("male", date(1988, 5, 12))
    assert (person.name_pinyin, person.name_initials) == ("ouyangxiaodong", "oyxd")
    assert person.created_by == users["grid_a1"]


def test_wrong_checksum_is_refused_next_to_the_field(users, client_for):
    bad = with_wrong_check_digit(resident_id())
    response = client_for("grid_a1").post("/persons/new/", form_data(users, id_number=bad))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="error-id_number"' in page and "身份证号码校验位不正确" in page
    assert not Person.objects.filter(name="欧阳晓东").exists()


def test_duplicate_id_links_to_the_existing_person(users, client_for, person_of):
    existing = person_of("grid_a1")
    page = (
        client_for("grid_a1")
        .post("/persons/new/", form_data(users, id_number=existing.id_number))
        .content.decode()
    )
    assert "该证件号码已登记" in page
    assert f'href="/persons/{existing.pk}/" id="duplicate-link"' in page


def test_duplicate_in_another_jurisdiction_is_refused_without_showing_it(
    users, client_for, person_of
):
    existing = person_of("grid_b1")
    page = (
        client_for("grid_a1")
        .post("/persons/new/", form_data(users, id_number=existing.id_number))
        .content.decode()
    )
    assert "已在其他辖区登记" in page
    assert existing.name not in page and f"/persons/{existing.pk}/" not in page


def test_person_without_id_needs_a_birth_date(users, client_for):
    client = client_for("grid_a1")
    page = client.post("/persons/new/", form_data(users, id_type="none", id_number="")).content
    assert "没有身份证号码时，请填写出生日期" in page.decode()
    response = client.post(
        "/persons/new/",
        form_data(users, id_type="none", id_number="", birth_date="2023-03-01", sex="female"),
    )
    assert response.status_code == 302
    assert Person.objects.get(name="欧阳晓东").id_number_hash is None


def test_invalid_phone_is_refused(users, client_for):
    page = client_for("grid_a1").post("/persons/new/", form_data(users, phone="12345")).content
    assert "电话号码无效" in page.decode()


def test_changes_are_kept_with_who_and_what(users, client_for):
    client = client_for("grid_a1")
    client.post("/persons/new/", form_data(users))
    person = Person.objects.get(name="欧阳晓东")
    client.post(
        f"/persons/{person.pk}/edit/", form_data(users, phone="13800001111", workplace="农场")
    )
    update = ChangeLog.objects.get(object_id=str(person.pk), action=ChangeLog.Action.UPDATE)
    assert update.actor == users["grid_a1"]
    assert update.changes == {"phone": ["139****5678", "138****1111"], "workplace": ["", "农场"]}
    created = ChangeLog.objects.get(object_id=str(person.pk), action=ChangeLog.Action.CREATE)
    assert created.changes["id_number"] == ["", "330122********" + resident_id()[-4:]]
    page = client.get(f"/persons/{person.pk}/").content.decode()
    assert "138****1111" in page and "农场" in page
    assert "13800001111" not in repr(update.changes)


def test_saving_unchanged_form_records_no_change(users, client_for):
    client = client_for("grid_a1")
    client.post("/persons/new/", form_data(users))
    person = Person.objects.get(name="欧阳晓东")
    client.post(f"/persons/{person.pk}/edit/", form_data(users))
    assert not ChangeLog.objects.filter(object_id=str(person.pk), action="update").exists()


@pytest.mark.parametrize(
    "kind", ["initials", "pinyin", "id_last4", "phone_last4", "full_id", "name"]
)
def test_search_finds_a_person_every_way(users, person_of, kind):
    person = person_of("grid_a1")
    query = {
        "initials": person.name_initials,
        "pinyin": person.name_pinyin,
        "id_last4": person.id_number[-4:],
        "phone_last4": person.phone[-4:],
        "full_id": person.id_number.lower(),
        "name": person.name,
    }[kind]
    found = Person.objects.visible_to(users["grid_a1"]).search(query)
    assert person in found
    assert all(p.grid_id == person.grid_id for p in found)


def test_person_list_query_count_does_not_grow_with_rows(client_for, django_assert_max_num_queries):
    client = client_for("county_admin")
    with django_assert_max_num_queries(9):  # incl. the unread-alerts badge
        response = client.get("/persons/")
    assert response.content.decode().count('href="/persons/') >= 50


def test_broad_search_stops_counting_at_the_cap(client_for, monkeypatch):
    from fangyi.people import filters

    monkeypatch.setattr(filters, "SEARCH_COUNT_CAP", 20)
    page = client_for("county_admin").get("/persons/", {"q": "z"}).content.decode()
    assert "超过 20 条，请输入更多内容缩小范围" in page
    assert page.count('href="/persons/') >= 20
