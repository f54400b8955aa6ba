"""The simulated engine dictates the model's exact format from ground truth, with recorded deliberate errors."""

import re

import pytest

from inference.engines.base import (
    REPORT_PROMPT,
    CaseContext,
    GenerationParams,
    PermanentEngineError,
    Prompt,
)
from inference.engines.simulated import REGION_TEXT, SimulatedEngine
from inference.parsing import parse_output
from inference.trace_format import REGION_SLUGS, REVIEW_REGIONS
from readerstudy.core.labels import CHEXPERT_LABELS
from tests.prompts import DIFFERENTIALS, FINDINGS, REPORT

NAMES = dict(CHEXPERT_LABELS)
ANSWER = re.compile(r"\n</think>\n<answer> (.*) </answer>\Z")


def truth(*positive, **values):
    """A full truth dict: the given slugs positive, `values` as given (keyword underscores for hyphens)."""
    full = {slug: "negative" for slug in NAMES}
    full.update(dict.fromkeys(positive, "positive"))
    full.update({slug.replace("_", "-"): value for slug, value in values.items()})
    return full


def converse(case, prompts=(FINDINGS,), **engine_options):
    engine = SimulatedEngine(**{"error_rate": 0.0, **engine_options})
    return engine.converse(None, list(prompts), GenerationParams(), case=case)


def first_text(case, **engine_options):
    return converse(case, **engine_options).turns[0].text


def answer_labels(text):
    return ANSWER.search(text).group(1).split(", ")


def paragraphs(text):
    return text.removeprefix("<think>\n").split("\n</think>")[0].split("\n\n")


def paragraph(text, region):
    return paragraphs(text)[REGION_SLUGS.index(region)]


def side_of(case, label):
    """The side the engine gives a finding when it makes no error: the patient's side, for these tests."""
    return SimulatedEngine(error_rate=0.0).read(case).sides[label]


def test_the_output_is_a_think_block_of_one_paragraph_per_region_in_review_order_then_the_answer():
    text = first_text(CaseContext("c1", truth("cardiomegaly", "pleural-effusion", "support-devices")))
    assert text.startswith("<think>\n") and text.endswith(" </answer>") and ANSWER.search(text)
    found = paragraphs(text)
    assert len(found) == len(REVIEW_REGIONS)
    for words, (slug, name, keywords) in zip(found, REVIEW_REGIONS):
        opening = " ".join(words.lower().split()[:6])
        assert any(key in opening for key in (name.lower(), *keywords)), (slug, words)
    assert found[-1].startswith("In summary, ")


@pytest.mark.parametrize(
    ("positive", "answer"),
    [
        ((), ["No Finding"]),
        (("support-devices",), ["No Finding", "Support Devices"]),  # CheXpert: a line alone is no finding
        (("cardiomegaly", "support-devices"), ["Cardiomegaly", "Support Devices"]),
        (("pneumothorax", "edema", "fracture"), ["Edema", "Fracture", "Pneumothorax"]),
    ],
)
def test_without_errors_the_answer_is_the_positive_truth_in_vocabulary_order(positive, answer):
    assert answer_labels(first_text(CaseContext("c", truth(*positive)))) == answer


def test_the_truths_no_finding_value_is_ignored_and_unknown_labels_count_as_absent():
    case = CaseContext("c", {"no-finding": "positive", "edema": "positive", "fracture": "unknown"})
    assert answer_labels(first_text(case)) == ["Edema"]


def test_an_uncertain_label_is_answered_for_about_half_the_cases_the_same_way_every_time():
    cases = [CaseContext(f"u{index}", truth(lung_opacity="uncertain")) for index in range(60)]
    answered = [answer_labels(first_text(case)) == ["Lung Opacity"] for case in cases]
    assert 15 < sum(answered) < 45
    assert answered == [answer_labels(first_text(case)) == ["Lung Opacity"] for case in cases]


def test_findings_are_dictated_where_a_radiologist_would_with_their_side():
    case = CaseContext(
        "c2", truth("cardiomegaly", "pleural-effusion", "pneumothorax", "lung-lesion", "support-devices")
    )
    text, sides = first_text(case), SimulatedEngine(error_rate=0.0).read(case).sides
    assert paragraph(text, "heart") == "The cardiac silhouette is enlarged, cardiothoracic ratio approximately 0.6."
    pleura = paragraph(text, "pleura")
    assert f"blunting of the {sides['pleural-effusion']} costophrenic angle with a meniscus" in pleura
    assert f"at the {sides['pneumothorax']} apex" in pleura and f"{sides['pneumothorax']} pneumothorax" in pleura
    lesion_side = sides["lung-lesion"]
    assert f"nodule of about 12 mm in the {lesion_side} mid zone" in paragraph(text, f"{lesion_side}-lung")
    assert "endotracheal tube with its tip about 4 cm above the carina" in paragraph(text, "devices")
    assert "central venous catheter with its tip in the lower superior vena cava" in paragraph(text, "devices")


def test_a_normal_study_reads_normal_in_every_region():
    text = first_text(CaseContext("n", truth()))
    assert paragraphs(text)[:-1] == [REGION_TEXT[region][0] for region in REGION_SLUGS[:-1]]
    assert paragraphs(text)[-1] == "In summary, no acute cardiopulmonary abnormality."


def test_sides_are_drawn_per_case_and_label_and_vary():
    sides = {side_of(CaseContext(f"s{index}", truth("pneumothorax")), "pneumothorax") for index in range(20)}
    assert sides == {"left", "right"}
    alone = side_of(CaseContext("s", truth("pneumothorax")), "pneumothorax")
    assert side_of(CaseContext("s", truth("pneumothorax", "edema", "fracture")), "pneumothorax") == alone


def test_the_same_case_and_seed_give_the_same_text_and_another_seed_may_not():
    case = CaseContext("c7", truth("pneumothorax", "consolidation", pleural_effusion="uncertain"))
    prompts = [FINDINGS, REPORT, DIFFERENTIALS]
    texts = [turn.text for turn in converse(case, prompts, error_rate=0.5, seed=3).turns]
    assert texts == [turn.text for turn in converse(case, prompts, error_rate=0.5, seed=3).turns]
    assert any(first_text(case, seed=seed) != texts[0] for seed in range(4, 10))


def test_error_rate_zero_never_errs_and_one_always_makes_exactly_one_error():
    cases = [CaseContext(f"e{index}", truth("edema", "atelectasis")) for index in range(40)]
    assert not any(converse(case).deliberate_errors for case in cases)
    assert all(len(converse(case, error_rate=1.0).deliberate_errors) == 1 for case in cases)


def test_the_error_rate_is_per_case():
    cases = [CaseContext(f"r{index}", truth("edema")) for index in range(300)]
    erred = sum(bool(converse(case, error_rate=0.2).deliberate_errors) for case in cases)
    assert 30 < erred < 90


POSITIVE = ("cardiomegaly", "pleural-effusion", "lung-lesion")


def erring_cases(count=60):
    """Cases that all err (error_rate 1); among these 60, every kind of error occurs (tested below)."""
    for index in range(count):
        case = CaseContext(f"case-{index}", truth(*POSITIVE))
        result = converse(case, (FINDINGS, REPORT), error_rate=1.0)
        yield case, result.deliberate_errors[0], result.turns[0].text, result.turns[1].text


def test_every_kind_of_deliberate_error_occurs():
    assert {error["kind"] for _, error, _, _ in erring_cases()} == {"missed_finding", "false_finding", "wrong_side"}


def test_a_missed_finding_is_dropped_from_the_answer_and_its_region_reads_normal():
    for _case, error, text, _ in erring_cases():
        if error["kind"] == "missed_finding":
            assert error["label"] in POSITIVE and NAMES[error["label"]] not in answer_labels(text)
            assert paragraph(text, error["region"]) == REGION_TEXT[error["region"]][0]


def test_a_false_finding_is_an_absent_label_answered_and_described_in_its_region():
    for case, error, text, _ in erring_cases():
        if error["kind"] == "false_finding":
            assert case.truth[error["label"]] == "negative" and NAMES[error["label"]] in answer_labels(text)
            assert paragraph(text, error["region"]) != REGION_TEXT[error["region"]][0]


def test_a_wrong_side_keeps_the_label_and_states_the_other_side_in_text_and_report():
    for case, error, text, report in erring_cases():
        if error["kind"] == "wrong_side":
            stated, true = error["stated"], error["true"]
            assert {stated, true} == {"left", "right"} and error["true"] == side_of(case, error["label"])
            assert NAMES[error["label"]] in answer_labels(text)
            where = paragraph(text, error["region"])
            phrase = {"pleural-effusion": "{} pleural effusion", "lung-lesion": "in the {} mid zone"}[error["label"]]
            assert phrase.format(stated) in where and phrase.format(true) not in text
            assert error["region"] in ("pleura", f"{stated}-lung")
            assert phrase.format(true) not in report


def test_the_structured_report_has_its_sections_and_an_impression_that_agrees_with_the_answer():
    case = CaseContext("r", truth("pleural-effusion", "support-devices"))
    report = converse(case, (FINDINGS, REPORT)).turns[1].text
    headings = [
        "EXAMINATION:",
        "TECHNIQUE:",
        "FINDINGS:",
        "Lines/tubes:",
        "Lungs:",
        "Pleura:",
        "Heart and mediastinum:",
        "Bones:",
        "IMPRESSION:",
    ]
    assert report.startswith(headings[0])
    positions = [report.find("\n" + heading) for heading in headings[1:]]
    assert -1 not in positions and positions == sorted(positions)
    side = side_of(case, "pleural-effusion")
    impression = report.split("IMPRESSION:\n")[1].splitlines()
    assert impression == [
        f"1. Small {side} pleural effusion.",
        "2. Endotracheal tube and central venous catheter in satisfactory position.",
    ]


def test_the_report_follows_the_deliberate_errors_not_the_truth():
    for _case, error, text, report in erring_cases():
        impression = report.split("IMPRESSION:\n")[1]
        assert len(impression.splitlines()) == len(answer_labels(text))
        if error["kind"] == "missed_finding":
            assert {
                "cardiomegaly": "Cardiomegaly",
                "pleural-effusion": "pleural effusion",
                "lung-lesion": "pulmonary nodule",
            }[error["label"]] not in impression


def test_a_normal_report_has_a_normal_impression():
    report = converse(CaseContext("n", truth()), (FINDINGS, REPORT)).turns[1].text
    assert report.endswith("IMPRESSION:\n1. No acute cardiopulmonary abnormality.")


def test_differentials_are_listed_per_finding_and_a_normal_study_has_none():
    case = CaseContext("d", truth("cardiomegaly", "lung-lesion", "support-devices"))
    lines = converse(case, (FINDINGS, DIFFERENTIALS)).turns[1].text.splitlines()
    assert lines[1].startswith("1. Cardiomegaly: ") and "metastasis" in lines[2] and len(lines) == 4
    normal = converse(CaseContext("n", truth()), (FINDINGS, DIFFERENTIALS)).turns[1].text
    assert "within normal limits" in normal


def test_an_unknown_follow_up_gets_a_polite_generic_reply():
    text = converse(CaseContext("g", truth("edema")), (FINDINGS, Prompt("What is the weather?"))).turns[1].text
    assert "structured report" in text and "<" not in text


def test_token_counts_are_word_counts_and_the_prompt_counts_the_conversation_so_far():
    turns = converse(CaseContext("t", truth("edema")), (FINDINGS, REPORT)).turns
    assert [turn.tokens_out for turn in turns] == [len(turn.text.split()) for turn in turns]
    assert turns[1].tokens_in == turns[0].tokens_in + turns[0].tokens_out + len(REPORT_PROMPT.split())
    assert not any(turn.hit_token_limit for turn in turns)


def test_the_token_limit_cuts_the_text_as_generation_would():
    engine = SimulatedEngine(error_rate=0.0)
    turn = engine.converse(
        None, [FINDINGS], GenerationParams(max_new_tokens=30), case=CaseContext("t", truth("edema"))
    ).turns[0]
    assert turn.hit_token_limit and turn.tokens_out == 30 and "</think>" not in turn.text
    assert parse_output(turn.text).status == "truncated"


def test_seconds_per_turn_simulates_latency():
    turns = converse(CaseContext("s", truth()), (FINDINGS, REPORT), seconds_per_turn=0.02).turns
    assert all(turn.seconds >= 0.02 for turn in turns)


def test_it_needs_the_case_and_says_what_it_is():
    engine = SimulatedEngine()
    with pytest.raises(PermanentEngineError, match="needs the case"):
        engine.converse(None, [FINDINGS], GenerationParams())
    assert engine.is_simulated and engine.name == "simulated"
    assert (engine.model_id, engine.revision) == ("simulated/nv-reason-cxr", "sim-1")
    assert engine.software_versions() == {"engine": "simulated", "version": "sim-1"}


def test_the_parser_reads_the_simulated_output_as_written():
    for index in range(40):
        case = CaseContext(f"p{index}", truth("pneumothorax", "consolidation", "support-devices", edema="uncertain"))
        text = first_text(case, error_rate=0.5)
        parsed = parse_output(text)
        assert parsed.status == "ok"
        assert parsed.labels == [slug for name in answer_labels(text) for slug, n in NAMES.items() if n == name]
        assert [step.region for step in parsed.steps] == REGION_SLUGS
