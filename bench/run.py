"""Run benchmarks: `python -m bench.run [NAME ...]` (what `make bench NAME=...` calls).

Each benchmark is a module `bench/<name>.py` with a `main()`; without names, all of them run
in alphabetical order (modules starting with `_` are helpers, not benchmarks). Before the
first one, the database in DATABASE_URL (default: the local PostgreSQL `fangyi_bench`) is
created if it does not exist, and Django is set up. Each benchmark brings that database to
the state it needs (it may wipe and refill it, and migrate).
"""

import importlib
import os
import sys
import traceback
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fangyi_bench"
BENCH_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(
        path.stem
        for path in BENCH_DIR.glob("*.py")
        if path.stem not in ("run", "__init__") and not path.stem.startswith("_")
    )


def create_database_if_missing(url: str) -> None:
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        return
    params = {
        "dbname": "postgres",
        "user": config.get("USER"),
        "password": config.get("PASSWORD"),
        "host": config.get("HOST"),
        "port": config.get("PORT"),
    }
    params = {key: value for key, value in params.items() if value not in (None, "")}
    with psycopg.connect(**params, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}", flush=True)


def main(argv: list[str]) -> int:
    known = available()
    names = [name.removesuffix(".py") for name in argv] or known
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)}", file=sys.stderr)
        print(f"available: {', '.join(known) or '(none)'}", file=sys.stderr)
        return 2
    if not names:
        print("no benchmarks in bench/", file=sys.stderr)
        return 0

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangyi.settings")
    create_database_if_missing(os.environ["DATABASE_URL"])

    import django

    django.setup()

    failed = []
    for name in names:
        print(f"== bench {name}", flush=True)
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
