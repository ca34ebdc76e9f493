import json
import os
import subprocess
import sys


def settings_with(**env) -> dict:
    code = (
        "import json, fangyi.settings as s; "
        "print(json.dumps({'huey': s.HUEY, 'db': s.DATABASES['default']['ENGINE']}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_jobs_use_redis_when_redis_url_is_set_else_sqlite():
    assert settings_with(REDIS_URL="redis://127.0.0.1:6379/3")["huey"]["huey_class"] == (
        "huey.RedisHuey"
    )
    assert settings_with(REDIS_URL="")["huey"]["huey_class"] == "huey.SqliteHuey"


def test_database_url_selects_postgresql():
    assert settings_with(DATABASE_URL="postgres://postgres@127.0.0.1:5432/x")["db"] == (
        "django.db.backends.postgresql"
    )
