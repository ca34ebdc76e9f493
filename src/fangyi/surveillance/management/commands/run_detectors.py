from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fangyi.surveillance.detection import run_day


class Command(BaseCommand):
    help = "Run the detectors on a day (default today) or on each day of a range (backfill)."

    def add_arguments(self, parser):
        parser.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--since", type=date.fromisoformat, help="first day of a range")

    def handle(self, *args, day=None, since=None, **options):
        last = day or timezone.localdate()
        first = since or last
        if first > last:
            raise CommandError("--since must not be after --day")
        for n in range((last - first).days + 1):
            run = run_day(first + timedelta(days=n))
            self.stdout.write(
                f"{run.day}\tseries {run.series}\talarms {run.alarms}\t"
                f"new {run.new_signals}\tmerged {run.merged}\t{run.seconds:.2f} s"
            )
