"""Builders for the surveillance tests: townships of the demo county, imported history of
daily counts (the baseline before the system), and a clean slate of counts and signals."""

from datetime import date, timedelta

import numpy as np
import pytest
from django.utils import timezone

from fangyi.geo.models import Region
from fangyi.surveillance.models import DailyCount, DetectorRun, Signal


@pytest.fixture
def townships(db) -> list[Region]:
    return list(Region.objects.filter(level=Region.Level.TOWNSHIP).order_by("code"))


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def clean_slate(db):
    """No counts, runs or signals from the demo: each test builds the series it reads."""
    Signal.objects.filter(merged_into__isnull=False).delete()
    Signal.objects.all().delete()
    DetectorRun.objects.all().delete()
    DailyCount.objects.all().delete()


@pytest.fixture
def history(clean_slate):
    """history(source, topic, region, counts, end) → imported daily counts ending on `end`
    (the last value on `end`)."""

    def make(source, topic, region, values, end):
        start = end - timedelta(days=len(values) - 1)
        DailyCount.objects.bulk_create(
            DailyCount(
                source=source,
                topic=topic,
                region=region,
                day=start + timedelta(days=i),
                count=int(n),
                imported=True,
            )
            for i, n in enumerate(values)
            if n
        )

    return make


@pytest.fixture
def noisy():
    """noisy(days, mean=5) → a reproducible Poisson series."""
    generator = np.random.default_rng(11)
    return lambda days, mean=5.0: generator.poisson(mean, days)
