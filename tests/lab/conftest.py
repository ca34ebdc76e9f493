"""Builders for the lab tests: tubes collected through the services, results as rows."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.geo.models import Organisation
from fangyi.lab import services
from fangyi.lab.models import Purpose

_barcodes = itertools.count(1)


@pytest.fixture
def lab(users) -> Organisation:
    return users["lab_staff"].organisation


@pytest.fixture
def new_barcode():
    return lambda prefix="T": f"{prefix}{next(_barcodes):08d}"


@pytest.fixture
def collect(users, new_barcode):
    """collect(persons, purpose=…, hours_ago=3) → a tube collected by the clinician."""

    def make(persons, *, purpose=Purpose.FEVER_CLINIC, hours_ago=3, pool_size=None, **extra):
        return services.collect_sample(
            users["clinician"],
            barcode=extra.pop("barcode", None) or new_barcode(),
            purpose=purpose,
            persons=persons,
            pool_size=pool_size,
            collected_at=timezone.now() - timedelta(hours=hours_ago),
            **extra,
        )

    return make


@pytest.fixture
def result_row():
    def make(sample, result="negative", line=1, hours_ago=1, **extra):
        return services.ResultRow(
            line=line,
            barcode=sample.barcode,
            result=result,
            result_at=timezone.now() - timedelta(hours=hours_ago),
            **extra,
        )

    return make


@pytest.fixture
def free(residents):
    """free("grid_a1", n) → persons under no measure and without a case (so that what a
    result sets off is the test's alone)."""

    def pick(username, count=1):
        people = [
            p
            for p in residents(username, count + 40)
            if not p.measures.filter(status__in=("planned", "active")).exists()
            and not p.cases.exists()
        ]
        return people[:count]

    return pick
