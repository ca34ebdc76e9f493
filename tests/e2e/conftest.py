"""End-to-end fixtures: the real server (gunicorn via `fangyi serve`) on its own fresh
SQLite database with the demo county, and a headless Chromium driven by Playwright.

Nothing here touches pytest-django's test database: the server is a separate process
with its own FANGYI_VAR (secret keys, job queue) and DATABASE_URL under a tmp dir."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "fangyi-demo-2026"
# Enough persons that both demo grids (grid_a1's and grid_b1's) hold some: with 300 the
# demo's ~300 grids are mostly empty, including those two.
DEMO_PERSONS = 3000
DEMO_SEED = 11
STARTUP_TIMEOUT = 60
PHONE = {"width": 375, "height": 812}

# Environment that would change how the server behaves and must not leak in from the
# developer's shell or CI (HTTPS-only cookies, Redis, another database or key…).
SCRUBBED_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "FANGYI_HTTPS",
    "FANGYI_HOME",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "FANGYI_DATA_KEY",
    "FANGYI_DATA_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_HSTS_SECONDS",
    "WEB_CONCURRENCY",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fangyi(*args: str) -> list[str]:
    """The `fangyi` command of this environment (what `uv run fangyi` runs)."""
    return [sys.executable, "-m", "fangyi.cli", *args]


def run_in_server(server, code: str) -> str:
    """Run `code` in `fangyi shell` against the e2e server's database, cache and keys (its
    environment, as `e2e_server` starts it) and return the last line it printed."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV} | {
        "DJANGO_SETTINGS_MODULE": "fangyi.settings",
        "DATABASE_URL": f"sqlite:///{server.var / 'e2e.sqlite3'}",
        "FANGYI_VAR": str(server.var),
        "FANGYI_JOBS_IMMEDIATE": "1",
        "FANGYI_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        _fangyi("shell", "-c", code),
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class Server:
    url: str
    var: Path


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("e2e-server")
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env |= {
        "DJANGO_SETTINGS_MODULE": "fangyi.settings",
        "DATABASE_URL": f"sqlite:///{var / 'e2e.sqlite3'}",
        "FANGYI_VAR": str(var),
        # Static files straight from the finders (whitenoise), no 20 s collectstatic.
        "FANGYI_DEBUG": "1",
        # No job worker runs beside the server: jobs run inline.
        "FANGYI_JOBS_IMMEDIATE": "1",
        "FANGYI_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    cwd = Path(__file__).resolve().parents[2]
    for command in (
        _fangyi("migrate", "--noinput", "-v", "0"),
        _fangyi("demo", "--persons", str(DEMO_PERSONS), "--seed", str(DEMO_SEED)),
    ):
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(command[2:])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = var / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            _fangyi("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn master and worker
        )
    try:
        _wait_healthy(url, process, log_path)
        yield Server(url=url, var=var)
    finally:
        _stop(process)


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"server not healthy after {STARTUP_TIMEOUT} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: the end-to-end tests need a system Chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def login(browser, e2e_server) -> Iterator[Callable]:
    """login("grid_a1") → a Page of a fresh browser context (a phone screen by default),
    signed in through the login form and on the home page."""
    from playwright.sync_api import expect

    contexts = []

    def sign_in(username: str, viewport: dict | None = None):
        context = browser.new_context(
            base_url=e2e_server.url, viewport=viewport or PHONE, locale="zh-CN"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        watch_for_problems(page)
        page.goto("/accounts/login/")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{e2e_server.url}/")
        expect(page.locator("summary")).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


# Per page: front-end failures seen so far (static files not served, scripts refused by
# the Content-Security-Policy, uncaught script errors).
_PROBLEMS: dict[int, list[str]] = {}


def watch_for_problems(page) -> None:
    problems = _PROBLEMS.setdefault(id(page), [])

    def on_response(response) -> None:
        if "/static/" in response.url and response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))


def problems_of(page) -> list[str]:
    return list(_PROBLEMS.get(id(page), []))


def api_get(tab, path: str, **params) -> dict:
    """GET /api/<path> with the session of the page `tab`; the decoded JSON."""
    response = tab.request.get(f"/api/{path}", params=params or None)
    assert response.status == 200, f"/api/{path}: {response.status} {response.text()[:300]}"
    return json.loads(response.body())


def api_all_persons(tab, **params) -> list[dict]:
    """Every person of /api/persons the page's user sees, across the pages."""
    items: list[dict] = []
    page_number = 1
    while True:
        data = api_get(tab, "persons", page=page_number, **params)
        items += data["items"]
        if len(items) >= data["count"] or not data["items"]:
            return items
        page_number += 1
