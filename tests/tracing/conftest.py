"""Builders for the tracing tests: reported cases and contacts through the real services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.cases.services import create_case
from fangyi.diseases.models import Disease
from fangyi.people.models import Person
from fangyi.tracing import services


@pytest.fixture
def residents(users):
    """residents("grid_a1") → the persons of that jurisdiction holding a resident ID and a
    phone, oldest first (index them for distinct people)."""

    def pick(username: str, count: int = 10) -> list[Person]:
        return list(
            Person.objects.visible_to(users[username])
            .filter(id_type=Person.IdType.RESIDENT_ID)
            .exclude(phone_encrypted="")
            .select_related("grid")
            .order_by("id")[:count]
        )

    return pick


@pytest.fixture
def case_of(users):
    """case_of(person) → a submitted confirmed COVID-19 card of that person, diagnosed two
    hours ago, reported by the county CDC epidemiologist."""

    def report(person: Person, **fields):
        diagnosed = timezone.now() - timedelta(hours=2)
        data = {
            "person": person,
            "disease": Disease.objects.get(code="covid19"),
            "classification": "confirmed",
            "diagnosed_at": diagnosed,
            "onset_date": timezone.localdate(diagnosed),
            "occupation": "农民",
        } | fields
        return create_case(users["cdc_epi"], data, submit=True, duplicate_confirmed=True)

    return report


@pytest.fixture
def register(users):
    """register(person, case=… | source_contact=…) → a contact registered by cdc_epi."""

    def make(person: Person, **details):
        details = {
            "setting": "household",
            "relation": "家人",
            "last_exposure_at": timezone.now() - timedelta(hours=5),
        } | details
        return services.register_contact(users["cdc_epi"], person=person, **details)

    return make
