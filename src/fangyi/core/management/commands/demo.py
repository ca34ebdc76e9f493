import time

from django.core.management.base import BaseCommand

from fangyi.demo.build import build_demo
from fangyi.demo.lab import build_lab
from fangyi.demo.measures import build_measures
from fangyi.demo.outbreak import build_outbreak
from fangyi.demo.surveillance import build_surveillance
from fangyi.demo.travel import build_travel
from fangyi.geo.models import Region


class Command(BaseCommand):
    help = (
        "Build the synthetic demo county (regions, organisations, persons, demo users), "
        "its outbreak, control measures, sampling and testing, arrivals and surveillance."
    )

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=20_000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when regions already exist"
        )

    def handle(self, *args, persons, seed, if_empty, **options):
        if Region.objects.exists():
            if if_empty:
                self.stdout.write("Database already has data; demo not loaded.")
                return
            self.stderr.write("The database is not empty; the demo needs an empty database.")
            raise SystemExit(1)
        started = time.monotonic()
        summary = build_demo(persons=persons, seed=seed)
        outbreak = build_outbreak(seed)
        measures = build_measures(seed)
        lab = build_lab(seed)
        travel = build_travel(seed)
        surveillance = build_surveillance(seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo county built in {time.monotonic() - started:.1f} s: "
                f"{summary.regions} regions, {summary.organisations} organisations, "
                f"{summary.persons} persons, {summary.users} users; outbreak: {outbreak}; "
                f"measures: {measures}; lab: {lab}; travel: {travel}; "
                f"surveillance: {surveillance}."
            )
        )
