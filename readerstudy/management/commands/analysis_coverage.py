import time

from django.core.management.base import BaseCommand, CommandError

from readerstudy.analysis import coverage
from readerstudy.management.simulation_options import add_effect_arguments, apply_effect_options
from readerstudy.models import Arm
from readerstudy.reading.simulation_model import Effects


class Command(BaseCommand):
    help = (
        "Simulate reader studies in memory (williams-1, the dry-run study model), analyse each with ORH, and "
        "print for time and Jaccard, per comparison, the 95% CI coverage and the rejection rate with no arm "
        "effect, each with its Monte Carlo SE."
    )

    def add_arguments(self, parser):
        parser.add_argument("--studies", type=int, default=200, help="Simulated studies (default 200).")
        parser.add_argument("--readers", type=int, default=6)
        parser.add_argument("--cases", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--population",
            type=int,
            default=coverage.POPULATION_READS,
            help="Simulated reads per arm that give the true Jaccard of each arm.",
        )
        add_effect_arguments(parser)

    def handle(self, *args, studies, readers, cases, seed, population, **options):
        if studies < 1 or readers < 2 or cases < len(Arm.values) or population < 1:
            raise CommandError("Needs --studies ≥ 1, --readers ≥ 2, --cases ≥ 3 and --population ≥ 1.")
        effects = apply_effect_options(Effects(), options)
        started = time.perf_counter()
        tallies = coverage.run(effects, studies, readers, cases, seed=seed, population=population)
        self.stdout.write(
            f"{studies} simulated studies of {readers} readers × {cases} cases × {len(Arm.values)} "
            f"arms (williams-1), seed {seed}, in {time.perf_counter() - started:.0f} s."
        )
        self.stdout.write(
            f"{'endpoint':<9}{'comparison':<36}{'true effect':>12}{'coverage':>10}{'± MC SE':>9}"
            f"{'null rejection':>16}{'± MC SE':>9}{'not estimable':>15}"
        )
        for tally in tallies:
            comparison = f"{Arm(tally.arm).label} vs {Arm(tally.versus).label}"
            self.stdout.write(
                f"{tally.endpoint:<9}{comparison:<36}{tally.truth:>12.4f}{_rate(tally.coverage):>10}"
                f"{_rate(coverage.monte_carlo_se(tally.coverage, tally.studies)):>9}{_rate(tally.rejection):>16}"
                f"{_rate(coverage.monte_carlo_se(tally.rejection, tally.null_studies)):>9}{tally.not_estimable:>15}"
            )


def _rate(value):
    return "–" if value is None else f"{value:.3f}"
