from django.core.management.base import BaseCommand, CommandError

from readerstudy.management.study_argument import study_from_argument
from readerstudy.models import Arm
from readerstudy.services.simulation import SimulationRefused, SimulationSettings, simulate_reads


def arm_multiplier(text):
    arm, _, value = text.partition("=")
    if arm not in Arm.values:
        raise ValueError(f"unknown arm {arm!r}")
    return arm, float(value)


class Command(BaseCommand):
    help = "Fill a dry-run study with simulated reads, event logs and annotations (through the reading services)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="The study's id or exact title.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--base-seconds", type=float, default=60.0, help="Typical active reading time.")
        parser.add_argument("--arm-effect", action="append", default=[], metavar="ARM=MULTIPLIER",
                            help="Multiplier on active time, e.g. FULL_REASONING=0.75 (repeatable).")

    def handle(self, *args, study, seed, base_seconds, arm_effect, **options):
        target = study_from_argument(study)
        settings = SimulationSettings(seed=seed, base_active_s=base_seconds)
        try:
            settings.arm_multipliers.update(arm_multiplier(item) for item in arm_effect)
        except ValueError as bad:
            raise CommandError(f"--arm-effect: {bad}; use ARM=MULTIPLIER with an arm of {', '.join(Arm.values)}.")
        try:
            count = simulate_reads(target, settings)
        except SimulationRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(f"Simulated {count} reads.")
