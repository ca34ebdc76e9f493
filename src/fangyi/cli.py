"""The `fangyi` command: serve, worker, demo, and every Django management command."""

import os
import sys


def serve(argv: list[str]) -> None:
    """Production WSGI server (gunicorn); never Django's development server."""
    import argparse

    parser = argparse.ArgumentParser(prog="fangyi serve")
    parser.add_argument("--host", default=os.environ.get("FANGYI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FANGYI_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "3")))
    args = parser.parse_args(argv)

    from gunicorn.app.wsgiapp import run

    sys.argv = [
        "gunicorn",
        "fangyi.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "-",
        # Paths only: query strings carry searches, which may be ID numbers or phones.
        "--access-logformat",
        '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "--timeout",
        "120",
    ]
    run()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangyi.settings")
    argv = sys.argv[1:]
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    if argv[:1] == ["worker"]:
        argv = ["run_huey", *argv[1:]]

    from django.core.management import execute_from_command_line

    execute_from_command_line(["fangyi", *argv])


if __name__ == "__main__":
    main()
