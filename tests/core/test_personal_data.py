"""Personal data at rest is encrypted, searchable by keyed hash, masked when shown, and
every reveal or export is logged."""

from django.db import connection

from fangyi.core import crypto
from fangyi.core.masking import mask_id_number, mask_phone
from fangyi.core.models import AccessLog
from fangyi.people.models import Person


def test_encryption_round_trips_with_a_fresh_nonce_each_time():
    first, second = crypto.encrypt("330122198805121234"), crypto.encrypt("330122198805121234")
    assert first != second
    assert "330122198805121234" not in first
    assert crypto.decrypt(first) == crypto.decrypt(second) == "330122198805121234"


def test_keyed_hash_is_deterministic_and_separated_by_purpose():
    assert crypto.keyed_hash("1234", "id_last4") == crypto.keyed_hash("1234", "id_last4")
    assert crypto.keyed_hash("1234", "id_last4") != crypto.keyed_hash("1234", "phone_last4")
    assert crypto.keyed_hash("", "id_last4") == ""


def test_masks():
    assert mask_id_number("110101199003071234") == "110101********1234"
    assert mask_id_number("E12345678") == "E1*****78"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""


def test_no_id_number_or_phone_is_stored_in_clear_anywhere(db):
    persons = list(Person.objects.exclude(id_number_encrypted="").order_by("id")[:25])
    secrets = [p.id_number for p in persons] + [p.phone for p in persons if p.phone]
    assert len(secrets) > 30
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608  (introspected names)
            dump = repr(cursor.fetchall())
            leaked = [s for s in secrets if s in dump]
            assert not leaked, f"{table} holds personal data in clear"


def test_list_and_detail_show_masked_values(client_for, person_of):
    person = person_of("grid_a1")
    client = client_for("grid_a1")
    for url in ["/persons/", f"/persons/{person.pk}/"]:
        page = client.get(url).content.decode()
        assert person.id_number not in page
        assert person.phone not in page
    assert person.id_number_masked in client.get(f"/persons/{person.pk}/").content.decode()


def test_reveal_shows_full_values_and_is_logged(users, client_for, person_of):
    person = person_of("grid_a1")
    response = client_for("grid_a1").post(f"/persons/{person.pk}/reveal/")
    assert person.id_number in response.content.decode()
    assert person.phone in response.content.decode()
    entry = AccessLog.objects.get(object_id=str(person.pk), action=AccessLog.Action.REVEAL)
    assert entry.actor == users["grid_a1"]
    assert entry.detail["fields"] == ["id_number", "phone"]


def test_role_without_reveal_right_cannot_reveal(client_for, person_of):
    person = person_of("street_a")
    client = client_for("school_doctor")  # may view persons in street_a, not reveal
    assert client.get(f"/persons/{person.pk}/").status_code == 200
    assert client.post(f"/persons/{person.pk}/reveal/").status_code == 404
    assert client.get(f"/api/persons/{person.pk}", {"reveal": "true"}).status_code == 403
    assert not AccessLog.objects.filter(object_id=str(person.pk)).exists()


def test_api_reveal_is_logged_as_api(users, client_for, person_of):
    person = person_of("grid_a1")
    body = client_for("grid_a1").get(f"/api/persons/{person.pk}", {"reveal": "true"}).json()
    assert body["id_number"] == person.id_number and body["revealed"] is True
    assert AccessLog.objects.get(object_id=str(person.pk)).via == "api"


def test_export_is_logged_with_rows_and_filters(users, client_for):
    client = client_for("street_a")
    response = client.get("/persons/export.xlsx", {"category": "floating"})
    assert response.status_code == 200
    entry = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert entry.actor == users["street_a"]
    expected = Person.objects.visible_to(users["street_a"]).filter(category="floating").count()
    assert entry.detail == {"rows": expected, "filters": {"category": "floating"}}


def test_access_log_page_lists_reveals_for_admin_only(client_for, person_of):
    person = person_of("grid_a1")
    client_for("grid_a1").post(f"/persons/{person.pk}/reveal/")
    page = client_for("county_admin").get("/audit/access/").content.decode()
    assert person.name in page and "grid_a1" in page
    assert client_for("grid_a1").get("/audit/access/").status_code == 404


def test_export_over_the_limit_is_refused_not_truncated(client_for, settings):
    settings.EXPORT_MAX_ROWS = 10
    client = client_for("street_a")
    response = client.get("/persons/export.xlsx", {"category": "resident"}, follow=True)
    assert response.redirect_chain[0][0] == "/persons/?category=resident"
    assert "超过单次导出上限 10 条" in response.content.decode()
    assert not AccessLog.objects.filter(action=AccessLog.Action.EXPORT).exists()
