"""analysis_coverage: simulated studies analysed in memory, coverage and null rejection per comparison.

The thresholds are the README's benchmark (1000 studies); here a small fixed-seed run checks that the
numbers are computed, and computed from the analysis's own functions.
"""

import math
import re

import pytest
from django.core.management import CommandError, call_command

from readerstudy.analysis import coverage
from readerstudy.reading.simulation_model import Effects

COMPARISONS = ["AI labels only vs Unaided", "Full AI reasoning vs Unaided", "Full AI reasoning vs AI labels only"]


def test_the_command_prints_coverage_and_null_rejection_with_monte_carlo_errors(capsys):
    call_command(
        "analysis_coverage",
        "--studies",
        "4",
        "--readers",
        "3",
        "--cases",
        "9",
        "--population",
        "300",
        "--seed",
        "2",
        "--reader-arm-sd",
        "0.15",
        "--case-arm-sd",
        "0.1",
    )
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"4 simulated studies of 3 readers × 9 cases × 3 arms \(williams-1\), seed 2, in \d+ s\.", lines[0]
    )
    assert lines[1].split() == [
        "endpoint",
        "comparison",
        "true",
        "effect",
        "coverage",
        "±",
        "MC",
        "SE",
        "null",
        "rejection",
        "±",
        "MC",
        "SE",
        "not",
        "estimable",
    ]
    effects = Effects(reader_arm_sd=0.15, case_arm_sd=0.1)
    tallies = coverage.run(effects, studies=4, readers=3, cases=9, seed=2, population=300)
    assert len(lines[2:]) == len(tallies) == 6
    for index, (line, tally) in enumerate(zip(lines[2:], tallies)):
        comparison = COMPARISONS[index % 3]
        assert line.startswith(f"{tally.endpoint:<9}{comparison}")
        numbers = line[9 + len(comparison) :].split()
        assert (tally.studies, tally.null_studies) == (4, 4)
        assert numbers == [
            f"{tally.truth:.4f}",
            f"{tally.coverage:.3f}",
            f"{math.sqrt(tally.coverage * (1 - tally.coverage) / 4):.3f}",
            f"{tally.rejection:.3f}",
            f"{math.sqrt(tally.rejection * (1 - tally.rejection) / 4):.3f}",
            "0",
        ]


def test_true_effects_are_the_arm_ratios_and_the_expected_jaccard():
    effects = Effects(
        arm_multipliers={"UNAIDED": 1.0, "LABELS_ONLY": 0.9, "FULL_REASONING": 0.75},
        abnormal_multipliers={"FULL_REASONING": 0.8},
    )
    truth = coverage.true_effects(effects, seed=1, population=2_000)
    assert truth["time"] == {
        "UNAIDED": 0.0,
        "LABELS_ONLY": pytest.approx(math.log(0.9)),
        "FULL_REASONING": pytest.approx(math.log(0.75) + 0.55 * math.log(0.8)),
    }
    # No AI help and no automation bias: every arm reads exactly as well as unaided.
    assert len(set(truth["jaccard"].values())) == 1
    helped = coverage.true_effects(Effects(ai_help={"FULL_REASONING": 1.0}, miss_rate=0.3), seed=1, population=2_000)
    assert helped["jaccard"]["FULL_REASONING"] > helped["jaccard"]["UNAIDED"] + 0.05


def test_a_simulated_study_is_the_williams_design_read_by_the_model():
    frame = coverage.simulate_study(Effects(), seed="s", readers=6, cases=12)
    assert len(frame) == 6 * 12 * 3
    assert frame.groupby(["reader", "case"])["arm"].nunique().eq(3).all()
    assert set(frame["case_type"]) == {"normal", "abnormal"} and frame["jaccard"].between(0, 1).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--studies", "0"], "Needs --studies ≥ 1, --readers ≥ 2, --cases ≥ 3 and --population ≥ 1."),
        (
            ["--carryover", "FAST=0.5"],
            "--carryover: unknown arm 'FAST'; use ARM=VALUE with an arm of UNAIDED, LABELS_ONLY, FULL_REASONING.",
        ),
        (["--flag-rate", "LABELS_ONLY=often"], "--flag-rate: 'often' is not a number."),
        (
            ["--rating-effect", ":FULL_REASONING=1"],
            "--rating-effect: ':FULL_REASONING=1' names no question; use KEY:ARM=SHIFT.",
        ),
    ],
)
def test_bad_options_are_named(arguments, message):
    with pytest.raises(CommandError, match=f"^{re.escape(message)}$"):
        call_command("analysis_coverage", "--studies", "1", *arguments)
