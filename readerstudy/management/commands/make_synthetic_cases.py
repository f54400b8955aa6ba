from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from readerstudy.services.synthetic import make_synthetic_cases


def parse_size(text):
    """'2000x2500' -> (2000, 2500): width by height."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"--size must look like 2000x2500 (width x height), not {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise CommandError("--size must be between 16 and 8192 pixels on each side")
    return width, height


class Command(BaseCommand):
    help = "Write synthetic DX chest radiographs, one sub-folder per case, and OUT/labels.csv."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path)
        parser.add_argument("--count", type=int, default=12)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--size", default="2000x2500", help="Image size, width x height.")

    def handle(self, *args, out, count, seed, size, **options):
        if count < 1:
            raise CommandError("--count must be at least 1")
        cases = make_synthetic_cases(out, count=count, seed=seed, size=parse_size(size))
        for case_id, truth in cases:
            positives = [slug for slug, value in truth.items() if value == 1]
            self.stdout.write(f"{case_id}: {', '.join(positives) or 'no positive label'}")
        self.stdout.write(f"wrote {len(cases)} case(s) and labels.csv to {out}")
