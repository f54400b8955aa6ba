"""Acceptance: a 6-reader × 30-case × 3-arm dry run, analysed, agrees with its own export.

The per-arm counts and medians shown equal those computed from the exported reads, and the primary model's
arm estimates agree to 1e-3 (log scale) with a fit of the same model written here, on the export alone.
With a known multiplicative arm effect, each estimate's 95% CI contains the truth.
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

from readerstudy.models import StudyAnalysis
from readerstudy.services.synthetic import make_synthetic_cases
from tests.conftest import import_as_demo
from tests.factories import UserFactory
from tests.test_simulation import dry_run

pytestmark = pytest.mark.django_db

ARM_NAMES = {"UNAIDED": "Unaided", "LABELS_ONLY": "AI labels only", "FULL_REASONING": "Full AI reasoning"}
TRUE_RATIOS = {"LABELS_ONLY": 0.85, "FULL_REASONING": 0.7}


@pytest.fixture
def exported(tmp_path, dicom_store, coordinator):
    make_synthetic_cases(tmp_path / "cases", count=30, seed=4, size=(96, 120))
    case_set = import_as_demo(tmp_path / "cases")
    study = dry_run(case_set, [UserFactory(roles=["reader"]) for _ in range(6)], coordinator, washout_days=14)
    call_command("simulate_reads", str(study.pk), "--seed", "5",
                 *[f"--arm-effect={arm}={ratio}" for arm, ratio in TRUE_RATIOS.items()])
    call_command("export_study", str(study.pk), "--out", str(tmp_path / "export"))
    return study, tmp_path / "export"


def analysed_rows(folder):
    """The export's reads that the analysis keeps: no practice, no problem flag, some active time."""
    with (folder / "reads.csv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle)
                if row["practice"] == "no" and row["problem_flagged"] == "0" and int(row["active_ms"]) > 0]


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

    frame = pd.DataFrame({"reader": [row["reader"] for row in rows], "case": [row["case"] for row in rows],
                          "arm": [row["arm"] for row in rows],
                          "y": [math.log(int(row["active_ms"]) / 1000) for row in rows], "one": 1})
    independent = smf.mixedlm("y ~ C(arm, Treatment('Unaided'))", frame, groups="one", re_formula="0",
                              vc_formula={"reader": "0 + C(reader)", "case": "0 + C(case)"}).fit(reml=True)
    effects = {effect["arm"]: effect for effect in result["time"]["model"]["effects"]}
    for arm, ratio in TRUE_RATIOS.items():
        assert effects[arm]["estimate"] == pytest.approx(
            independent.fe_params[f"C(arm, Treatment('Unaided'))[T.{ARM_NAMES[arm]}]"], abs=1e-3)
        assert effects[arm]["ratio_ci_low"] < ratio < effects[arm]["ratio_ci_high"]

    # The coordinator's page shows the same numbers, and the exported report is the cached one.
    client.force_login(coordinator)
    page = client.get(reverse("study-analysis", args=[study.pk])).content.decode()
    for arm, (n, median) in expected.items():
        assert f"<td>{ARM_NAMES[arm]}</td><td>{n}</td><td>{median:.1f}</td>" in page
    stored = StudyAnalysis.objects.get(study=study)
    assert (folder / "analysis.html").read_text(encoding="utf-8") == stored.report_html
    assert stored.is_current and stored.result == result
