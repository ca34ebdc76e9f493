#!/usr/bin/env bash
# `make run` after `make setup`: migrate, load the demo county once, then run the job
# worker in the background and the web server in the foreground until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST="${FANGYI_HOST:-127.0.0.1}"
PORT="${FANGYI_PORT:-8000}"
VENV="${UV_PROJECT_ENVIRONMENT:-.venv}"
# The venv's own executables, so the worker's PID is the worker's (no `uv run` in between).
FANGYI="$VENV/bin/fangyi"
PYTHON="$VENV/bin/python"
DEMO_PASSWORD="fangyi-demo-2026"
DEMO_USERS=(county_admin commander cdc_epi cdc_reviewer clinician lab_staff street_a street_b
            grid_a1 grid_b1 facility_staff school_doctor pharmacy_clerk supplies_officer
            community_a hotel_clerk)

"$FANGYI" migrate --noinput
"$FANGYI" demo --if-empty

# One "username<TAB>role<TAB>region" per line; the plain list of names if that fails.
errors="$(mktemp)"
if ! logins="$("$FANGYI" demo_logins 2>"$errors")" || [ -z "$logins" ]; then
    echo "warning: 'fangyi demo_logins' gave no list: $(tail -n 1 "$errors")" >&2
    logins="$(printf '%s\t\t\n' "${DEMO_USERS[@]}")"
fi
rm -f "$errors"

# The banner: columns aligned by display width (a Chinese character takes two columns);
# a line "password<TAB>..." from demo_logins gives the password instead of a row.
LOGINS="$logins" ADDRESS="http://${HOST}:${PORT}/" PASSWORD="$DEMO_PASSWORD" "$PYTHON" - <<'PY'
import os
import unicodedata


def width(text):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


password = os.environ["PASSWORD"]
rows = [["用户名 username", "角色 role", "辖区 region"]]
for line in os.environ["LOGINS"].splitlines():
    fields = (line.split("\t") + ["", ""])[:3]
    if fields[0] == "password":
        password = fields[1]
    elif fields[0]:
        rows.append(fields)
widths = [max(width(row[i]) for row in rows) for i in range(3)]
address = os.environ["ADDRESS"]
print("\n" + "=" * 74)
print(f" 防疫 Fangyi:  {address}")
print(f" 演示账号 demo logins — 密码 password: {password}")
for row in rows:
    print("   " + "  ".join(c + " " * (widths[i] - width(c)) for i, c in enumerate(row)).rstrip())
print(f" 接口文档 API docs: {address}api/docs")
print(" 按 Ctrl-C 停止 / press Ctrl-C to stop")
print("=" * 74 + "\n", flush=True)
PY

worker_pid=""
stop_worker() {
    if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
        kill -TERM "$worker_pid" 2>/dev/null || true
        wait "$worker_pid" 2>/dev/null || true
    fi
}
trap stop_worker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$FANGYI" worker &
worker_pid=$!

"$FANGYI" serve --host "$HOST" --port "$PORT"
