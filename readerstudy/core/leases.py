"""Leases on rows: a worker owns a row while the row holds the worker's token and the lease has not run out.

A leased model has two columns (`Leased`), and every operation is one UPDATE whose WHERE clause says who may
make it, so two processes never both believe they hold a row. A worker renews its lease between the steps of
its work (the turns of a conversation, the passes of an analysis), so work that outlasts one lease period is
never taken over while it runs; the lease of a worker that died runs out, and the row can be claimed again.
Inference jobs and study analyses both use it.
"""

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Leased(models.Model):
    lease_token = models.UUIDField(null=True, blank=True, help_text="The claiming worker's token, while held.")
    lease_expires_at = models.DateTimeField(null=True, blank=True, help_text="When the lease runs out unless renewed.")

    class Meta:
        abstract = True


def free(now=None):
    """Rows no live lease holds: never claimed, released, or held by a worker whose lease ran out."""
    return Q(lease_token__isnull=True) | expired(now)


def expired(now=None):
    """Rows whose holder let the lease run out without renewing it (a dead or stuck worker)."""
    return Q(lease_token__isnull=False, lease_expires_at__lt=now or timezone.now())


def held_by(token):
    return Q(lease_token=token)


def claim(rows, seconds, **changes):
    """Lease the row `rows` selects (one, by its key) for `seconds` if no live lease holds it, making `changes`
    in the same UPDATE; returns the new token, or None if it is held (or does not exist)."""
    now = timezone.now()
    token = uuid.uuid4()
    taken = rows.filter(free(now)).update(
        lease_token=token, lease_expires_at=now + timedelta(seconds=seconds), **changes
    )
    return token if taken else None


def renew(rows, token, seconds):
    """Extend the lease `token` holds by `seconds` from now; False if it is no longer held (taken over)."""
    return bool(rows.filter(held_by(token)).update(lease_expires_at=timezone.now() + timedelta(seconds=seconds)))


def release(rows, token, **changes):
    """Give the lease up, making `changes` in the same UPDATE; False (and nothing changed) if it was lost."""
    return bool(rows.filter(held_by(token)).update(lease_token=None, lease_expires_at=None, **changes))


class LeaseLost(Exception):
    """The lease ran out and another worker may hold the row now: stop, and write nothing."""
