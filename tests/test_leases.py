"""The lease helper on a real row: one holder at a time, renewal by the holder only, takeover after expiry."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from readerstudy.core import leases
from readerstudy.models import StudyAnalysis
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def row():
    return StudyAnalysis.objects.filter(pk=StudyAnalysis.objects.create(study=StudyFactory()).pk)


def test_a_row_has_one_holder_until_it_releases(row):
    first = leases.claim(row, 60, queued_at=None)
    assert first is not None and row.get().lease_token == first
    assert leases.claim(row, 60) is None
    assert leases.release(row, first, requested_version=5)
    assert (row.get().lease_token, row.get().lease_expires_at, row.get().requested_version) == (None, None, 5)
    assert leases.claim(row, 60) not in (None, first)


def test_renewal_extends_the_holders_lease_and_nobody_elses(row):
    token = leases.claim(row, 1)
    before = row.get().lease_expires_at
    assert leases.renew(row, token, 600)
    assert row.get().lease_expires_at - before > timedelta(seconds=590)
    assert not leases.renew(row, uuid.uuid4(), 600)
    assert not leases.release(row, uuid.uuid4(), requested_version=9)
    assert (row.get().lease_token, row.get().requested_version) == (token, 0)


def test_a_lease_that_ran_out_is_taken_over_and_the_old_holder_can_neither_renew_nor_release(row):
    stale = leases.claim(row, 60)
    row.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert row.filter(leases.expired()).exists() and row.filter(leases.free()).exists()
    fresh = leases.claim(row, 60)
    assert fresh not in (None, stale)
    assert not row.filter(leases.expired()).exists() and not row.filter(leases.free()).exists()
    assert not leases.renew(row, stale, 60) and not leases.release(row, stale)
    assert row.get().lease_token == fresh
