from django.conf import settings
from django.test import Client

from fangyi import settings as production_settings
from fangyi.core.models import JobHeartbeat
from fangyi.core.tasks import heartbeat


def test_login_page_is_chinese_and_demo_login_works(users):
    users["grid_a1"].set_password("fangyi-demo-2026")
    users["grid_a1"].save(update_fields=["password"])
    client = Client()
    assert "登录" in client.get("/accounts/login/").content.decode()
    response = client.post(
        "/accounts/login/", {"username": "grid_a1", "password": "fangyi-demo-2026"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_password_gets_a_chinese_message_then_lockout(users):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page = client.post("/accounts/login/", {"username": "grid_b1", "password": "nope"})
        assert "用户名或密码不正确" in page.content.decode()
    locked = client.post("/accounts/login/", {"username": "grid_b1", "password": "nope"})
    assert "已暂时锁定" in locked.content.decode()
    users["grid_b1"].set_password("right-password-1")
    users["grid_b1"].save(update_fields=["password"])
    still = client.post("/accounts/login/", {"username": "grid_b1", "password": "right-password-1"})
    assert "已暂时锁定" in still.content.decode()


def test_production_hashes_passwords_with_argon2():
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_english_is_available(client_for):
    client = client_for("grid_a1")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page and "Registered persons" in page


def test_heartbeat_job_shows_on_status_page(client_for):
    heartbeat()
    heartbeat()
    assert JobHeartbeat.objects.get().runs == 2
    page = client_for("county_admin").get("/status/").content.decode()
    assert "共 2 次" in page
    assert client_for("grid_a1").get("/status/").status_code == 302
