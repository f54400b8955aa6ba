import re
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from readerstudy.core.labels import CHEXPERT_LABELS
from tooling.synthetic.cases import make_synthetic_cases

LABEL_NAMES = dict(CHEXPERT_LABELS)
SIZE_LIMITS = (16, 8192)


def parse_size(text):
    """'2000x2500' -> (2000, 2500): width by height."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not match:
        raise CommandError(f"--size must look like 2000x2500 (width x height in pixels), not {text!r}")
    width, height = int(match[1]), int(match[2])
    low, high = SIZE_LIMITS
    if not (low <= width <= high and low <= height <= high):
        raise CommandError(f"--size must be between {low} and {high} pixels on each side, not {width}x{height}")
    return width, height


class Command(BaseCommand):
    help = (
        "Write synthetic DX chest radiographs (one sub-folder per case, each with frontal.dcm) and "
        "OUT/labels.csv with their ground truth. The same seed gives the same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="Folder to write the cases into (created if missing).")
        parser.add_argument("--count", type=int, default=12, help="Number of cases (default 12).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed, 0 or more (default 0).")
        parser.add_argument("--size", default="2000x2500", help="Image size, width x height (default 2000x2500).")

    def handle(self, *args, out, count, seed, size, **options):
        if count < 1:
            raise CommandError(f"--count must be at least 1, not {count}")
        if seed < 0:
            raise CommandError(f"--seed must be 0 or more, not {seed}")
        width, height = parse_size(size)
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a folder")
        started = time.perf_counter()
        cases = make_synthetic_cases(out, count=count, seed=seed, size=(width, height))
        for case_id, truth in cases:
            self.stdout.write(f"{case_id}: {describe(truth)}")
        abnormal = sum(1 for _, truth in cases if truth["no-finding"] != 1)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {len(cases)} case(s) of {width}x{height} ({abnormal} abnormal) and labels.csv to {out} "
                f"in {time.perf_counter() - started:.1f} s"
            )
        )


def describe(truth):
    """'Cardiomegaly, Pleural Effusion (uncertain)': the positive and uncertain labels by name."""
    named = [
        LABEL_NAMES[slug] + (" (uncertain)" if value == -1 else "") for slug, value in truth.items() if value in (1, -1)
    ]
    return ", ".join(named)
