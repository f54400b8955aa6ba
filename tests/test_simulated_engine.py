"""The simulated engine writes the model's exact format from ground truth, with recorded deliberate errors."""

import pytest

from inference.engines.base import CaseContext, GenerationParams, PermanentEngineError
from inference.engines.simulated import SimulatedEngine
from inference.parsing import parse_output
from inference.trace_format import REGION_SLUGS
from readerstudy.labels import CHEXPERT_LABELS

PROMPTS = ["Find abnormalities and support devices.", "Write a structured report"]


def truth(**positives):
    values = {slug: "negative" for slug, _ in CHEXPERT_LABELS}
    values.update({slug.replace("_", "-"): "positive" for slug in positives})
    return values


def converse(case, error_rate=0.0, seed=0, prompts=PROMPTS):
    return SimulatedEngine(error_rate=error_rate, seed=seed).converse(None, prompts, GenerationParams(), case=case)


def test_output_has_the_models_format_with_every_region_in_review_order():
    result = converse(CaseContext("c1", truth(cardiomegaly=1, pleural_effusion=1)))
    text = result.turns[0].text
    assert text.startswith("<think>\n") and text.endswith("</answer>")
    parsed = parse_output(text)
    assert parsed.status == "ok"
    assert [step.region for step in parsed.steps] == REGION_SLUGS
    assert parsed.labels == ["cardiomegaly", "pleural-effusion"]
    assert "cardiothoracic ratio approximately 0.6" in text
    assert result.deliberate_errors == []


def test_a_normal_case_answers_no_finding_and_a_line_alone_keeps_no_finding():
    assert parse_output(converse(CaseContext("n", truth())).turns[0].text).labels == ["no-finding"]
    devices = parse_output(converse(CaseContext("d", truth(support_devices=1))).turns[0].text)
    assert devices.labels == ["support-devices", "no-finding"]


def test_same_case_and_seed_same_text():
    case = CaseContext("c7", truth(pneumothorax=1))
    assert converse(case, 0.5, seed=3).turns[0].text == converse(case, 0.5, seed=3).turns[0].text


def test_error_rate_one_always_makes_one_recorded_error_reflected_in_the_output():
    kinds = set()
    for index in range(40):
        case = CaseContext(f"case-{index}", truth(pleural_effusion=1, cardiomegaly=1))
        result = converse(case, error_rate=1.0)
        assert len(result.deliberate_errors) == 1
        error = result.deliberate_errors[0]
        kinds.add(error["kind"])
        labels = parse_output(result.turns[0].text).labels
        if error["kind"] == "missed_finding":
            assert error["label"] not in labels
        elif error["kind"] == "false_finding":
            assert error["label"] in labels and error["label"] not in ("pleural-effusion", "cardiomegaly")
        else:
            assert error["label"] == "pleural-effusion" and f"{error['stated']} pleural effusion" in result.turns[0].text
            assert error["stated"] != error["true"]
    assert kinds == {"missed_finding", "false_finding", "wrong_side"}


def test_error_rate_zero_never_errs():
    assert all(not converse(CaseContext(f"c{i}", truth(edema=1)), 0.0).deliberate_errors for i in range(30))


def test_the_structured_report_agrees_with_the_answer():
    result = converse(CaseContext("r", truth(pneumothorax=1, support_devices=1)))
    report = result.turns[1].text
    assert report.startswith("EXAMINATION:") and "IMPRESSION:" in report
    assert "1. Pneumothorax (" in report and "endotracheal tube" in report


def test_it_needs_the_case():
    with pytest.raises(PermanentEngineError):
        SimulatedEngine().converse(None, PROMPTS, GenerationParams(), case=None)
