"""The simulated study's effects as command-line options, for simulate_reads and analysis_coverage alike.

Per-arm options take ARM=VALUE and repeat (`--carryover FULL_REASONING=0.85 --carryover LABELS_ONLY=0.95`);
`--rating-effect` takes KEY:ARM=SHIFT, a shift of that question's latent score in SDs.
"""

from django.core.management.base import CommandError

from readerstudy.models import Arm

PER_ARM = [
    (
        "--arm-effect",
        "arm_multipliers",
        "Multiplier on active time in the arm, e.g. FULL_REASONING=0.75 (defaults 1.0 / 0.9 / 0.75).",
    ),
    (
        "--abnormal-arm-effect",
        "abnormal_multipliers",
        "Extra multiplier on active time in the arm, on abnormal cases only.",
    ),
    (
        "--carryover",
        "carryover",
        "Multiplier on the next read of the same case by the same reader after a read in "
        "the arm, e.g. FULL_REASONING=0.85.",
    ),
    (
        "--ai-help",
        "ai_help",
        "In an AI arm, the share (0–1) of the reader's error rates removed where the AI is right.",
    ),
    ("--automation-bias", "automation_bias", "In an AI arm, the chance (0–1) of following each AI error shown."),
    (
        "--flag-rate",
        "flag_rate",
        "The chance (0–1) of flagging each AI error shown in the arm (default 0.6 in both AI arms).",
    ),
]
NUMBERS = [
    ("--base-seconds", "base_active_s", "Typical active reading time in seconds (default 60)."),
    ("--reader-sd", "reader_sd", "SD of the readers' effect on log time (default 0.25)."),
    ("--case-sd", "case_sd", "SD of the cases' effect on log time (default 0.3)."),
    ("--reader-arm-sd", "reader_arm_sd", "SD of each reader's own response to each arm, log time (default 0)."),
    ("--case-arm-sd", "case_arm_sd", "SD of each case's own response to each arm, log time (default 0)."),
    ("--noise-sd", "noise_sd", "SD of the read-to-read noise on log time (default 0.2)."),
    ("--learning", "learning", "Multiplier on active time per session after the first (default 1)."),
    ("--miss-rate", "miss_rate", "Unaided chance of missing each positive finding (default 0.08)."),
    ("--false-rate", "false_rate", "Unaided chance of one false label per read (default 0.08)."),
]


def add_effect_arguments(parser):
    for flag, _, help_text in PER_ARM:
        parser.add_argument(flag, action="append", default=[], metavar="ARM=VALUE", help=help_text)
    parser.add_argument(
        "--rating-effect",
        action="append",
        default=[],
        metavar="KEY:ARM=SHIFT",
        help="Shift of a rating question's latent score in the arm, in SDs, e.g. confidence:FULL_REASONING=0.5.",
    )
    for flag, _, help_text in NUMBERS:
        parser.add_argument(flag, type=float, default=None, help=help_text)


def apply_effect_options(effects, options):
    """Set on `effects` (an Effects) what the options give; CommandError names a malformed one."""
    for flag, attribute, _ in PER_ARM:
        getattr(effects, attribute).update(_per_arm(flag, item) for item in options[_dest(flag)])
    for item in options["rating_effect"]:
        key, _, rest = item.partition(":")
        arm, value = _per_arm("--rating-effect", rest)
        if not key:
            raise CommandError(f"--rating-effect: {item!r} names no question; use KEY:ARM=SHIFT.")
        effects.rating_effects.setdefault(key, {})[arm] = value
    for flag, attribute, _ in NUMBERS:
        if options[_dest(flag)] is not None:
            setattr(effects, attribute, options[_dest(flag)])
    return effects


def _dest(flag):
    return flag.lstrip("-").replace("-", "_")


def _per_arm(flag, text):
    arm, _, value = text.partition("=")
    if arm not in Arm.values:
        raise CommandError(f"{flag}: unknown arm {arm!r}; use ARM=VALUE with an arm of {', '.join(Arm.values)}.")
    try:
        return arm, float(value)
    except ValueError:
        raise CommandError(f"{flag}: {value!r} is not a number.") from None
