"""N simulated readers reading case after case as the workstation page does, with no think time, while one more
client polls /healthz; then what the database holds: no read lost, nothing doubled.

Each case: GET the assignment, POST a batch of timing events, PUT the draft, POST the submit, then on to the
submit's next_url. A request that fails is sent again, as the page's outbox does: the same events and the same
submission UUID, so a retry that reaches the server twice must still store each thing once.
"""

import asyncio
import logging
import re
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.db.models import Count

from readerstudy.models import Assignment, TimingEvent

from .stats import percentile

# Any 32 characters of [a-zA-Z0-9] make a CSRF token; the API checks the cookie against the X-CSRFToken header.
CSRF_TOKEN = "bench" * 6 + "ab"
ENDPOINTS = ("detail", "events", "draft", "submit")
HEALTHZ = "healthz"
NEXT_CASE = re.compile(r"^/read/([^/]+)/$")
RETRY_PAUSE_S = 0.1
# httpx logs every request at INFO, which the site's logging prints: thousands of lines around the table.
logging.getLogger("httpx").setLevel(logging.WARNING)
REPORT = {
    "findings": ["consolidation", "pleural-effusion"],
    "report_findings": "Right lower zone consolidation.",
    "report_impression": "Pneumonia.",
}


@dataclass
class Tally:
    """What the clients saw: latencies (ms) and failures per endpoint, and the reads the server said it took."""

    latencies: dict = field(default_factory=lambda: defaultdict(list))
    errors: dict = field(default_factory=lambda: defaultdict(Counter))
    submitted: set = field(default_factory=set)
    sessions_finished: int = 0
    seconds: float = 0.0


async def timed(client, tally, endpoint, method, path, body=None):
    """One request; its latency is tallied whatever the answer. Returns the response, or None on a failure."""
    started = time.perf_counter()
    try:
        response = await client.request(method, path, json=body)
    except httpx.HTTPError as error:
        response, failure = None, type(error).__name__
    else:
        failure = None if response.is_success else response.status_code
    tally.latencies[endpoint].append((time.perf_counter() - started) * 1000)
    if failure is not None:
        tally.errors[endpoint][failure] += 1
        return None
    return response


async def until_answered(client, tally, deadline, endpoint, method, path, body=None):
    """The request, sent again until it succeeds; None once the run's time is up."""
    while time.monotonic() < deadline:
        response = await timed(client, tally, endpoint, method, path, body)
        if response is not None:
            return response
        await asyncio.sleep(RETRY_PAUSE_S)
    return None


def event(type_, ms, page_load_id, **payload):
    return {"uuid": str(uuid.uuid4()), "page_load_id": page_load_id, "type": type_, "client_ms": ms, "payload": payload}


async def read_case(client, tally, deadline, public_id):
    """One case read through; returns the next case's public id, or None (session done, or time up)."""
    base = f"/api/assignments/{public_id}/"
    detail = await until_answered(client, tally, deadline, "detail", "GET", base)
    if detail is None:
        return None
    page_load = str(uuid.uuid4())
    events = [event("page_shown", 0.0, page_load), event("image_rendered", 850.0, page_load, image=1)]
    if not await until_answered(client, tally, deadline, "events", "POST", base + "events/", {"events": events}):
        return None
    report = {
        **REPORT,
        "ratings": {q["key"]: (q["scale_min"] + q["scale_max"]) // 2 for q in detail.json()["questions"]},
    }
    if not await until_answered(client, tally, deadline, "draft", "PUT", base + "draft/", report):
        return None
    submit = {
        **report,
        "submission_uuid": str(uuid.uuid4()),
        "events": [event("submit", 4850.0, page_load)],
        "client_times": {"page_load_id": page_load},
    }
    answer = await until_answered(client, tally, deadline, "submit", "POST", base + "submit/", submit)
    if answer is None:
        return None
    tally.submitted.add(public_id)
    following = NEXT_CASE.match(answer.json()["next_url"])
    if following is None:  # the session-complete page: this reader has read every case
        tally.sessions_finished += 1
        return None
    return following[1]


def reader_client(base_url, session_key):
    return httpx.AsyncClient(
        base_url=base_url,
        cookies={settings.SESSION_COOKIE_NAME: session_key, settings.CSRF_COOKIE_NAME: CSRF_TOKEN},
        headers={"X-CSRFToken": CSRF_TOKEN},
        timeout=60,
    )


async def reader(base_url, session_key, first_case, tally, deadline):
    async with reader_client(base_url, session_key) as client:
        public_id = first_case
        while public_id is not None:
            public_id = await read_case(client, tally, deadline, public_id)


async def health_poller(base_url, tally, deadline):
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        while time.monotonic() < deadline:
            await timed(client, tally, HEALTHZ, "GET", "/healthz")


async def run_load(base_url, readers, seconds):
    """`readers`: [(session key, first case's public id)]. Every client stops sending at the deadline; the
    run's time counts until the last answer came."""
    tally = Tally()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        health_poller(base_url, tally, deadline),
        *(reader(base_url, key, first, tally, deadline) for key, first in readers),
    )
    tally.seconds = time.monotonic() - started
    return tally


def lost_and_doubled(submitted):
    """From the database: submits answered 200/201 whose read is not submitted; timing events stored twice for
    one client UUID; reads with more than one submit event."""
    stored = Assignment.objects.filter(public_id__in=submitted, read__submitted_at__isnull=False)
    lost = len(submitted) - stored.count()
    # order_by(): the model's ordering would join the assignment, and split the groups.
    events = TimingEvent.objects.order_by()
    doubled_events = events.values("client_uuid").annotate(n=Count("pk")).filter(n__gt=1).count()
    doubled_submits = events.filter(type="submit").values("assignment").annotate(n=Count("pk")).filter(n__gt=1)
    return lost, doubled_events + doubled_submits.count()


def table(tally):
    """The printed result, line by line."""
    lines = [f"{'endpoint':<9} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  errors"]
    for endpoint in (*ENDPOINTS, HEALTHZ):
        times = tally.latencies[endpoint]
        errors = ", ".join(f"{status}: {n}" for status, n in sorted(tally.errors[endpoint].items(), key=str))
        lines.append(
            f"{endpoint:<9} {len(times):>8} {len(times) / tally.seconds:>7.1f} {percentile(times, 50):>8.1f} "
            f"{percentile(times, 95):>8.1f} {percentile(times, 99):>8.1f}  {errors or 'none'}"
        )
    reading = sum(len(tally.latencies[endpoint]) for endpoint in ENDPOINTS)
    total = reading + len(tally.latencies[HEALTHZ])
    submit_p99, healthz_p99 = percentile(tally.latencies["submit"], 99), percentile(tally.latencies[HEALTHZ], 99)
    lines += [
        f"total: {total / tally.seconds:.1f} req/s ({reading / tally.seconds:.1f} req/s reading) over "
        f"{tally.seconds:.1f} s; reads submitted: {len(tally.submitted)}; readers who read their whole session: "
        f"{tally.sessions_finished}",
        f"healthz p99: {healthz_p99:.1f} ms; submit p99 / healthz p99: {submit_p99 / healthz_p99:.2f}",
    ]
    return lines
