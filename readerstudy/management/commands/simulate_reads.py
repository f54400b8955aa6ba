from django.core.management.base import BaseCommand, CommandError

from readerstudy.management.simulation_options import add_effect_arguments, apply_effect_options
from readerstudy.management.study_argument import study_from_argument
from readerstudy.reading.simulation import SimulationRefused, SimulationSettings, simulate_reads


class Command(BaseCommand):
    help = (
        "Fill a dry-run study with simulated reads, event logs and annotations (through the reading "
        "services), with the effects given."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="The study's id or exact title.")
        parser.add_argument("--seed", type=int, default=1)
        add_effect_arguments(parser)

    def handle(self, *args, study, seed, **options):
        target = study_from_argument(study)
        settings = apply_effect_options(SimulationSettings(seed=seed), options)
        try:
            count = simulate_reads(target, settings)
        except SimulationRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(f"Simulated {count} reads.")
