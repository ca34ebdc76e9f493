"""Test settings: the real settings, with a fast password hasher and jobs run inline."""

import os

os.environ.setdefault("FANGYI_JOBS_IMMEDIATE", "1")

from fangyi.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Each test process counts on its own (the file cache under var/ is shared by every run).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
