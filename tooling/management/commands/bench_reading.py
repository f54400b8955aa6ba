"""Many readers reading at once against gunicorn on a throwaway database: latency per reading endpoint, against
/healthz polled meanwhile (the anchor), and a check that no read was lost or doubled."""

import asyncio
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tooling.bench.reading_load import lost_and_doubled, run_load, table
from tooling.bench.seeding import seed_readers
from tooling.bench.site import throwaway_site
from tooling.servers import ROOT, gunicorn

CASE_SIZE = (96, 120)  # small images: the image endpoint is bench_serving's, not this load's


class Command(BaseCommand):
    help = (
        "Simulated readers (no think time) read case after case through the reading API under gunicorn, on a "
        "throwaway database, while /healthz is polled; prints latencies per endpoint and reads lost or doubled."
    )

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4).")
        parser.add_argument(
            "--cases", type=int, default=100, help="Cases in each reader's session, enough for the run (default 100)."
        )
        parser.add_argument(
            "--site",
            type=Path,
            default=ROOT,
            help="Checkout that gunicorn runs (cwd and PYTHONPATH), e.g. a worktree of an older commit with the "
            "same schema; default this one.",
        )

    def handle(self, *args, readers, seconds, workers, cases, site, **options):
        if readers < 1 or cases < 1 or seconds <= 0:
            raise CommandError("--readers, --cases and --seconds must be positive")
        site = site.resolve()
        if not (site / "readerstudy" / "wsgi.py").is_file():
            raise CommandError(f"{site} is not a checkout of this project (no readerstudy/wsgi.py)")
        with throwaway_site("reading") as bench:
            self.stdout.write(f"Seeding {readers} readers with {cases} cases each …")
            signed_in = seed_readers(readers, cases, CASE_SIZE)
            env = {**bench.env, "PYTHONPATH": str(site)}
            with gunicorn(env, workers=workers, site=site) as url:
                self.stdout.write(f"{readers} readers for {seconds:g} s against {workers} gunicorn workers ({site})")
                tally = asyncio.run(run_load(url, signed_in, seconds))
            lost, doubled = lost_and_doubled(tally.submitted)
        for line in table(tally):
            self.stdout.write(line)
        self.stdout.write(f"reads lost: {lost}; doubled: {doubled}")
