"""`manage.py make_tiny_model OUT`: the offline stand-in for NV-Reason-CXR-3B (see tooling/tiny_model.py)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    # It touches no database, model or URL: it must run on a worker that has only the inference code paths.
    requires_system_checks = []
    help = (
        "Build and train a tiny Qwen2.5-VL that writes NV-Reason-CXR-3B's output format, save it to OUT, "
        "then load it through the transformers engine and print its greedy answer to a synthetic radiograph."
    )

    def add_arguments(self, parser):
        # tiny_model imports torch: import it only when this command is actually used.
        from tooling.tiny_model import DEFAULT_SEED, DEFAULT_STEPS

        parser.add_argument("out", help="directory to save the model and processor to")
        parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)

    def handle(self, *args, out, steps, seed, **options):
        from tooling.tiny_model import make_tiny_model

        manifest = make_tiny_model(out, steps=steps, seed=seed)
        self.stdout.write(
            f"trained {manifest['parameters']:,} parameters for {steps} steps in "
            f"{manifest['seconds']} s (final loss {manifest['final_loss']})"
        )
        turn = sample_turn(out)
        self.stdout.write(f"greedy answer ({turn.tokens_out} tokens, {turn.seconds:.2f} s):\n{turn.text}")
        self.stdout.write(self.style.SUCCESS(f"saved to {out}"))


def sample_turn(out):
    """Load the saved model the way a worker loads the real one, and ask it the model card's question."""
    from inference.engines.base import DEFAULT_PROMPT, GenerationParams, Prompt, TurnKind
    from inference.engines.transformers_engine import TransformersEngine
    from tooling.tiny_model import synthetic_radiograph

    engine = TransformersEngine(out, device="cpu", dtype="float32", local_files_only=True)
    engine.load()
    findings = Prompt(DEFAULT_PROMPT, TurnKind.FINDINGS)
    return engine.converse(synthetic_radiograph(), [findings], GenerationParams()).turns[0]
