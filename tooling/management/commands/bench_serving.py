"""A reader's DICOM image served by gunicorn itself, by nginx after Django's X-Accel-Redirect, and by nginx as a
plain static file (the anchor), on a throwaway site; prints each way's throughput and latency and the ratios."""

from django.core.management.base import BaseCommand, CommandError

from readerstudy.core import dicom_store
from readerstudy.models import Assignment
from readerstudy.studies import served_images
from tooling.bench.seeding import seed_readers
from tooling.bench.serving import check_whole_file, measure, sent_bytes, table
from tooling.bench.site import throwaway_site
from tooling.management.commands.make_synthetic_cases import parse_size
from tooling.servers import gunicorn, nginx


class Command(BaseCommand):
    help = (
        "Measure /api/assignments/<id>/images/1/ with wrk three ways, interleaved in rounds: (a) gunicorn's "
        "FileResponse, (b) nginx with X-Accel-Redirect, (c) nginx serving the same file statically (the anchor)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rounds", type=int, default=3, help="Rounds of (a), (b), (c) in turn (default 3).")
        parser.add_argument("--seconds", type=int, default=10, help="Each wrk run's duration (default 10).")
        parser.add_argument("--connections", type=int, default=4, help="wrk's open connections (default 4).")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4).")
        parser.add_argument(
            "--image-size", default="2000x2500", help="The synthetic radiograph, WxH (default: the demo's, ~10 MB)."
        )

    def handle(self, *args, rounds, seconds, connections, workers, image_size, **options):
        if rounds < 1 or seconds < 1 or connections < 1:
            raise CommandError("--rounds, --seconds and --connections must be positive")
        size = parse_size(image_size)
        with throwaway_site("serving") as bench:
            [(session_key, public_id)] = seed_readers(1, 1, size)
            cookie = f"sessionid={session_key}"
            path = f"/api/assignments/{public_id}/images/1/"
            accel_env = {**bench.env, "USE_X_ACCEL_REDIRECT": "true", "TRUSTED_PROXY_COUNT": "1"}
            with (
                gunicorn(bench.env, workers=workers) as direct,
                gunicorn(accel_env, workers=workers) as behind_nginx,
                nginx(bench.data_dir / "nginx", behind_nginx, bench.store, static_folder=bench.store) as server,
            ):
                # The first request writes the reader's copy of the image, which all three ways then send.
                sent_bytes(direct + path, cookie)
                relative = served_images.relative_path(Assignment.objects.get(public_id=public_id), 1)
                size_bytes = dicom_store.absolute_path(relative).stat().st_size
                urls = {
                    "(a) gunicorn FileResponse": direct + path,
                    "(b) nginx X-Accel-Redirect": server.url + path,
                    "(c) nginx static (anchor)": f"{server.url}/static-files/{relative}",
                }
                check_whole_file(urls.values(), cookie, size_bytes)
                self.stdout.write(
                    f"{size_bytes / 1024**2:.1f} MB image; {rounds} round(s) of {seconds} s per way, "
                    f"{connections} connections, {workers} gunicorn workers"
                )
                ways = measure(urls, cookie, rounds, seconds, connections)
        for line in table(ways, anchor=ways[-1]):
            self.stdout.write(line)
