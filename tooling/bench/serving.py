"""A reader's image measured with wrk three ways: gunicorn sending the file itself (FileResponse), nginx sending it
after Django's X-Accel-Redirect (production), and nginx sending the same file as a plain static file (the
anchor). The three run in turn within each round, so that a slow spell of a shared machine falls on all alike."""

import re
import statistics
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import CommandError

WRK = Path("/usr/bin/wrk")
UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
UNITS_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TOTALS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read")
PERCENTILE = r"^\s*{}%\s+([\d.]+)(us|ms|s|m|h)\s*$"
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass
class Run:
    """One wrk run of one way."""

    requests: int
    seconds: float
    bytes: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors


def parse_wrk(output):
    totals = TOTALS.search(output)
    if totals is None:
        raise CommandError(f"wrk printed no totals:\n{output}")
    latency = {}
    for p in (50, 99):
        found = re.search(PERCENTILE.format(p), output, re.MULTILINE)
        latency[p] = float(found[1]) * UNITS_S[found[2]] * 1000
    non_2xx = NON_2XX.search(output)
    sockets = SOCKET_ERRORS.search(output)
    return Run(
        requests=int(totals[1]),
        seconds=float(totals[2]) * UNITS_S[totals[3]],
        bytes=float(totals[4]) * UNITS_BYTES[totals[5]],
        p50_ms=latency[50],
        p99_ms=latency[99],
        errors=(int(non_2xx[1]) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    )


def wrk(url, cookie, seconds, connections):
    """One wrk run (one thread: the machine's other core serves); --latency prints the percentiles."""
    if not WRK.is_file():
        raise CommandError("wrk is missing: run `make wrk` (make test does)")
    command = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Cookie: {cookie}", url]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(finished.stdout)


def sent_bytes(url, cookie):
    """How many bytes one GET of `url` answered with."""
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return len(response.read())
    except urllib.error.HTTPError as error:
        raise CommandError(f"{url} answered {error.code}") from None


def check_whole_file(urls, cookie, size):
    """Each way must send the whole file before it is timed: a 404 is fast too."""
    for url in urls:
        sent = sent_bytes(url, cookie)
        if sent != size:
            raise CommandError(f"{url} sent {sent} bytes, not the file's {size}")


@dataclass
class Way:
    name: str
    runs: list

    @property
    def requests_per_s(self):
        return sum(r.requests for r in self.runs) / sum(r.seconds for r in self.runs)

    @property
    def mb_per_s(self):
        return sum(r.bytes for r in self.runs) / sum(r.seconds for r in self.runs) / 1024**2

    @property
    def p50_ms(self):
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self):
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def errors(self):
        return sum(r.errors for r in self.runs)


def measure(urls, cookie, rounds, seconds, connections):
    """`urls`: {way's name: URL}, each run once per round in this order. Returns [Way] in the same order."""
    ways = {name: Way(name, []) for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            ways[name].runs.append(wrk(url, cookie, seconds, connections))
    return list(ways.values())


def table(ways, anchor):
    """The printed result: one line per way, then each other way's ratios to the anchor."""
    lines = [f"{'way':<28} {'req/s':>8} {'MB/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"]
    for way in ways:
        lines.append(
            f"{way.name:<28} {way.requests_per_s:>8.1f} {way.mb_per_s:>9.1f} {way.p50_ms:>8.2f} "
            f"{way.p99_ms:>8.2f} {way.errors:>6}"
        )
    for way in ways:
        if way is not anchor:
            lines.append(
                f"{way.name} / anchor: req/s {way.requests_per_s / anchor.requests_per_s:.3f}, "
                f"p99 {way.p99_ms / anchor.p99_ms:.2f}"
            )
    return lines
