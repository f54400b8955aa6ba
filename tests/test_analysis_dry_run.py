"""Acceptance: a 6-reader × 30-case × 3-arm dry run, analysed, agrees with its own export.

The per-arm counts and medians shown equal those computed from the exported reads, and the mixed model's
arm estimates agree to 1e-3 (log scale) with a fit of the same model written here, on the export alone.
With a known multiplicative arm effect, each estimate's 95% CI contains the truth. Every arm comparison is
made by ORH too, marked primary or secondary with Holm-adjusted p-values, with the arm × case-type test and,
since the study asks for the probability of abnormality, an MRMC AUC per arm.
"""

import csv
import json
import math
import statistics

import pandas as pd
import pytest
import statsmodels.formula.api as smf
from django.core.management import call_command
from django.urls import reverse

from readerstudy.analysis.refresh import current_analysis
from readerstudy.models import StudyAnalysis
from tests.conftest import import_as_demo
from tests.factories import UserFactory
from tests.test_simulation import dry_run
from tooling.synthetic.cases import make_synthetic_cases

pytestmark = pytest.mark.django_db

ARM_NAMES = {"UNAIDED": "Unaided", "LABELS_ONLY": "AI labels only", "FULL_REASONING": "Full AI reasoning"}
TRUE_RATIOS = {"LABELS_ONLY": 0.85, "FULL_REASONING": 0.7}


@pytest.fixture
def exported(tmp_path, dicom_store, coordinator):
    make_synthetic_cases(tmp_path / "cases", count=30, seed=4, size=(96, 120))
    case_set = import_as_demo(tmp_path / "cases")
    study = dry_run(
        case_set, [UserFactory(roles=["reader"]) for _ in range(6)], coordinator, washout_days=14, asks_abnormality=True
    )
    call_command(
        "simulate_reads",
        str(study.pk),
        "--seed",
        "5",
        *[f"--arm-effect={arm}={ratio}" for arm, ratio in TRUE_RATIOS.items()],
    )
    call_command("export_study", str(study.pk), "--out", str(tmp_path / "export"))
    return study, tmp_path / "export"


def analysed_rows(folder):
    """The export's reads that the analysis keeps: no practice, no problem flag, some active time."""
    with (folder / "reads.csv").open(encoding="utf-8") as handle:
        return [
            row
            for row in csv.DictReader(handle)
            if row["practice"] == "no" and row["problem_flagged"] == "0" and int(row["active_ms"]) > 0
        ]


def test_the_analysis_reproduces_the_export_and_an_independent_fit(exported, client, coordinator):
    study, folder = exported
    result = json.loads((folder / "analysis.json").read_text(encoding="utf-8"))
    rows = analysed_rows(folder)
    assert len(rows) == 540 and result["reads"]["analysed"] == 540

    expected = {}
    for arm, name in ARM_NAMES.items():
        ms = [int(row["active_ms"]) for row in rows if row["arm"] == name]
        expected[arm] = (len(ms), statistics.median(ms) / 1000)
    assert {row["arm"]: (row["n"], row["median_s"]) for row in result["time"]["per_arm"]} == expected

    # The sensitivity model, from the export alone: the previous arm as indicators against Unaided, 0 for a
    # case's first reading (absorbed by session 1).
    frame = pd.DataFrame(
        {
            "reader": [row["reader"] for row in rows],
            "case": [row["case"] for row in rows],
            "arm": [row["arm"] for row in rows],
            "session": [row["session"] for row in rows],
            "after_labels": [float(row["previous_arm"] == "AI labels only") for row in rows],
            "after_full": [float(row["previous_arm"] == "Full AI reasoning") for row in rows],
            "y": [math.log(int(row["active_ms"]) / 1000) for row in rows],
            "one": 1,
        }
    )
    frame["reader_arm"], frame["case_arm"] = frame["reader"] + frame["arm"], frame["case"] + frame["arm"]
    independent = smf.mixedlm(
        "y ~ C(arm, Treatment('Unaided')) + C(session) + after_labels + after_full",
        frame,
        groups="one",
        re_formula="0",
        vc_formula={
            "reader": "0 + C(reader)",
            "case": "0 + C(case)",
            "reader_arm": "0 + C(reader_arm)",
            "case_arm": "0 + C(case_arm)",
        },
    ).fit(reml=True, method=["powell", "lbfgs"])
    model = result["time"]["model"]
    assert [(c["previous_arm"], c["estimate"]) for c in model["carryover"]] == [
        ("LABELS_ONLY", pytest.approx(independent.fe_params["after_labels"], abs=1e-3)),
        ("FULL_REASONING", pytest.approx(independent.fe_params["after_full"], abs=1e-3)),
    ]
    effects = {effect["arm"]: effect for effect in model["effects"]}
    for arm, ratio in TRUE_RATIOS.items():
        assert effects[arm]["estimate"] == pytest.approx(
            independent.fe_params[f"C(arm, Treatment('Unaided'))[T.{ARM_NAMES[arm]}]"], abs=1e-3
        )
        assert effects[arm]["ratio_ci_low"] < ratio < effects[arm]["ratio_ci_high"]

    # The coordinator's page shows the same numbers, and the exported report is the cached one.
    client.force_login(coordinator)
    page = client.get(reverse("study-analysis", args=[study.pk])).content.decode()
    for arm, (n, median) in expected.items():
        assert f"<td>{ARM_NAMES[arm]}</td><td>{n}</td><td>{median:.1f}</td>" in page
    stored = StudyAnalysis.objects.get(study=study)
    assert (folder / "analysis.html").read_text(encoding="utf-8") == stored.report_html
    assert stored.is_current and stored.result == result


def test_every_arm_comparison_by_orh_primary_first_and_the_rest_holm_adjusted(exported, client, coordinator):
    study, folder = exported
    mrmc = json.loads((folder / "analysis.json").read_text(encoding="utf-8"))["mrmc"]
    assert [(e["kind"], e["key"]) for e in mrmc["endpoints"]] == [
        ("time", "time"),
        ("rating", "confidence"),
        ("rating", "usefulness"),
        ("rating", "trust"),
        ("rating", "reasoning_accuracy"),
        ("rating", "uncertainty_qualified"),
        ("jaccard", "jaccard"),
        ("sensitivity", "sensitivity"),
        ("specificity", "specificity"),
        ("auc", "auc"),
    ]
    by_key = {e["key"]: e for e in mrmc["endpoints"]}
    for key in ("time", "confidence", "jaccard", "sensitivity", "specificity", "auc"):
        endpoint = by_key[key]
        assert endpoint["estimable"] and (endpoint["readers"], endpoint["readers_left_out"]) == (6, [])
        assert [arm["arm"] for arm in endpoint["per_arm"]] == list(ARM_NAMES)
        assert [(p["arm"], p["versus"]) for p in endpoint["pairs"]] == [
            ("LABELS_ONLY", "UNAIDED"),
            ("FULL_REASONING", "UNAIDED"),
            ("FULL_REASONING", "LABELS_ONLY"),
        ]
    assert all(0.5 < arm["estimate"] <= 1 for arm in by_key["auc"]["per_arm"])
    # Asked only in the AI arms: one comparison; asked in Full reasoning alone: an interval, no comparison.
    assert [(p["arm"], p["versus"]) for p in by_key["usefulness"]["pairs"]] == [("FULL_REASONING", "LABELS_ONLY")]
    assert (len(by_key["reasoning_accuracy"]["per_arm"]), by_key["reasoning_accuracy"]["pairs"]) == (1, [])

    primary = [(e["key"], p["arm"], p["versus"]) for e in mrmc["endpoints"] for p in e["pairs"] if p["primary"]]
    assert primary == [("time", "FULL_REASONING", "UNAIDED")] and by_key["time"]["role"] == "primary"
    family = [p for e in mrmc["endpoints"] for p in e["pairs"] if not p["primary"]]
    # Time and confidence 3 pairs each, usefulness and trust 1 each, Jaccard, sensitivity, specificity, AUC 3 each.
    assert len(family) == 3 + 3 + 1 + 1 + 4 * 3 - 1 and all(p["p"] <= p["p_adjusted"] <= 1 for p in family)
    smallest = min(family, key=lambda p: p["p"])
    assert smallest["p_adjusted"] == pytest.approx(min(1.0, len(family) * smallest["p"]))
    full = by_key["time"]["pairs"][1]
    assert full["ratio_ci_low"] < full["ratio"] < full["ratio_ci_high"] and full["p_adjusted"] is None

    assert [(e["key"], e["estimable"], len(e["pairs"])) for e in mrmc["interaction"]] == [
        ("time", True, 3),
        ("jaccard", True, 3),
    ]

    client.force_login(coordinator)
    page = client.get(reverse("study-analysis", args=[study.pk])).content.decode()
    assert (
        "Primary comparison</strong>, declared before the study opened: Reading time, Full AI reasoning vs "
        "Unaided." in page
    )
    for testid in (
        "mrmc-time",
        "mrmc-auc",
        "mrmc-sensitivity",
        "mrmc-specificity",
        "mrmc-interaction-time",
        "mrmc-interaction-jaccard",
        "mrmc-rating-confidence-pairs",
    ):
        assert f'data-testid="{testid}"' in page, testid
    assert 'data-testid="mrmc-auc-FULL_REASONING-UNAIDED"' in page


def analysed_dry_run(tmp_path, coordinator, *effects, seed="7"):
    make_synthetic_cases(tmp_path / "cases", count=30, seed=4, size=(96, 120))
    study = dry_run(
        import_as_demo(tmp_path / "cases"),
        [UserFactory(roles=["reader"]) for _ in range(6)],
        coordinator,
        washout_days=14,
    )
    call_command("simulate_reads", str(study.pk), "--seed", seed, *effects)
    return study, current_analysis(study)


def test_the_sensitivity_model_separates_carry_over_from_the_arm_effect(tmp_path, dicom_store, coordinator):
    """williams-1, a true Full/Unaided ratio of 0.75 and reads 15% faster after a Full-reasoning read."""
    study, analysis = analysed_dry_run(
        tmp_path, coordinator, "--arm-effect=FULL_REASONING=0.75", "--carryover=FULL_REASONING=0.85"
    )
    model = analysis.result["time"]["model"]
    assert model["formula"] == (
        "log_active_s ~ arm + session + previous_arm + (1|reader) + (1|case) + (1|reader:arm) + (1|case:arm)"
    )
    full = next(effect for effect in model["effects"] if effect["arm"] == "FULL_REASONING")
    assert full["ratio_ci_low"] < 0.75 < full["ratio_ci_high"]
    carryover = {c["previous_arm"]: c for c in model["carryover"]}
    assert carryover["FULL_REASONING"]["excludes_no_effect"] is True
    assert carryover["FULL_REASONING"]["ratio_ci_low"] < 0.85 < carryover["FULL_REASONING"]["ratio_ci_high"]
    assert carryover["LABELS_ONLY"]["excludes_no_effect"] is False
    assert [session["session"] for session in model["sessions"]] == [2, 3]
    assert (
        'data-testid="time-model-carryover-FULL_REASONING" class="flagged"><td>Read before under Full AI '
        "reasoning vs under Unaided (carry-over) <strong>— its CI excludes no effect</strong>"
    ) in analysis.report_html


def test_a_rating_effect_and_a_stronger_effect_on_abnormal_cases_show_in_the_report(tmp_path, dicom_store, coordinator):
    study, analysis = analysed_dry_run(
        tmp_path,
        coordinator,
        "--rating-effect=confidence:FULL_REASONING=1.0",
        "--abnormal-arm-effect=FULL_REASONING=0.7",
    )
    mrmc = analysis.result["mrmc"]
    confidence = next(e for e in mrmc["endpoints"] if e["key"] == "confidence")
    full_vs_unaided = next(p for p in confidence["pairs"] if (p["arm"], p["versus"]) == ("FULL_REASONING", "UNAIDED"))
    assert full_vs_unaided["estimate"] > 0 and full_vs_unaided["p_adjusted"] < 0.05
    time = mrmc["interaction"][0]
    assert time["key"] == "time"
    interaction = next(p for p in time["pairs"] if (p["arm"], p["versus"]) == ("FULL_REASONING", "UNAIDED"))
    assert interaction["ratio"] < 1 and interaction["p"] < 0.05
    assert 'data-testid="mrmc-interaction-time-FULL_REASONING-UNAIDED"' in analysis.report_html


def test_without_those_effects_neither_shows(exported):
    study, folder = exported
    mrmc = json.loads((folder / "analysis.json").read_text(encoding="utf-8"))["mrmc"]
    confidence = next(e for e in mrmc["endpoints"] if e["key"] == "confidence")
    assert all(p["p_adjusted"] >= 0.05 for p in confidence["pairs"])
    assert all(p["p"] >= 0.05 for p in mrmc["interaction"][0]["pairs"])
