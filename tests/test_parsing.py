"""The output parser on realistic traces in the model's format, and on every malformed form."""

import pytest

from inference.parsing import parse_output

NORMAL = """<think>
Image quality: PA projection with adequate inspiration; no rotation.

Devices: no lines or tubes are present.

Central airways: the trachea is midline.

Right lung: clear, without focal consolidation.

Left lung: clear, without focal consolidation.

Pleura: no effusion or pneumothorax; the costophrenic angles are sharp.

Mediastinum: normal contour.

Hila: normal in size.

Heart: the cardiac silhouette is normal in size.

Upper abdomen: no free air under the diaphragm.

Bones: no acute osseous abnormality.

In summary, no acute cardiopulmonary abnormality.
</think>
<answer> No Finding </answer>"""

EFFUSION = """<think>
The image quality is adequate: AP projection, mildly rotated.
No support devices are seen.
The trachea is midline.
The right lung shows basal opacity blending with the effusion.
The left lung is clear.
There is a moderate right pleural effusion with a meniscus; no pneumothorax.
The mediastinum is not widened.
The hila are unremarkable.
The heart is enlarged, cardiothoracic ratio ≥ 0.6.
Upper abdomen unremarkable.
Osseous structures are intact.
Overall: cardiomegaly with a right pleural effusion.
</think>
<answer> Cardiomegaly, Pleural Effusion </answer>"""


def test_a_normal_trace_gives_twelve_steps_in_review_order_with_exact_offsets():
    parsed = parse_output(NORMAL)
    assert parsed.status == "ok"
    assert [s.region for s in parsed.steps] == [
        "image-quality", "devices", "central-airways", "right-lung", "left-lung", "pleura", "mediastinum", "hila",
        "heart", "upper-abdomen", "bones", "overall"]
    for step in parsed.steps:
        assert NORMAL[step.start:step.end] == step.text == step.text.strip()
    assert parsed.labels == ["no-finding"] and parsed.unknown_labels == []
    assert NORMAL[parsed.answer_start:parsed.answer_end] == " No Finding "


def test_one_step_per_line_when_the_model_writes_no_blank_lines_and_offsets_count_code_points():
    text = "🩻 é " + EFFUSION
    parsed = parse_output(text)
    assert len(parsed.steps) == 12
    assert [s.region for s in parsed.steps][:6] == [
        "image-quality", "devices", "central-airways", "right-lung", "left-lung", "pleura"]
    assert parsed.steps[8].region == "heart" and "≥ 0.6" in parsed.steps[8].text
    for step in parsed.steps:
        assert text[step.start:step.end] == step.text
    assert parsed.labels == ["cardiomegaly", "pleural-effusion"]


def test_text_outside_the_tags_stray_whitespace_and_upper_case_tags_are_tolerated():
    text = "Sure, here is my read.\n  <THINK>  \n\n Heart: enlarged.  \n\n </THINK>\n\n<Answer>cardiomegaly ,  edema.</ANSWER> thanks"
    parsed = parse_output(text)
    assert parsed.status == "ok"
    assert [(s.text, s.region) for s in parsed.steps] == [("Heart: enlarged.", "heart")]
    assert parsed.labels == ["cardiomegaly", "edema"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("<think>\nImage quality: adequate.\n\nHeart: the cardiac silh", "truncated"),
        ("<think>\nHeart: normal.\n</think>\n<answer> No Fin", "truncated"),
        ("<think>\nHeart: normal.\n</think>", "truncated"),
        ("Please provide a frontal chest X-ray image.", "refused"),
        ("  please provide a frontal chest x-ray image  ", "refused"),
        ("This appears to be a hand radiograph. Please provide a frontal chest X-ray image!", "refused"),
        ("The lungs look fine to me.", "malformed"),
        ("", "malformed"),
    ],
)
def test_malformed_outputs_get_their_status(text, status):
    assert parse_output(text).status == status


def test_a_truncated_trace_keeps_its_complete_steps():
    text = "<think>\nImage quality: adequate.\n\nHeart: the cardiac silh"
    parsed = parse_output(text)
    assert [s.region for s in parsed.steps] == ["image-quality", "heart"]
    assert parsed.labels == []


def test_synonyms_duplicates_and_unknown_labels():
    parsed = parse_output("<think>x</think><answer> effusion; Pleural Effusion, PTX\nlung nodule, Unicorn sign, "
                          "support devices, No Finding. </answer>")
    assert parsed.labels == ["pleural-effusion", "pneumothorax", "lung-lesion", "support-devices", "no-finding"]
    assert parsed.unknown_labels == ["Unicorn sign"]


def test_an_empty_answer_is_an_empty_label_list():
    parsed = parse_output("<think>\nHeart: normal.\n</think>\n<answer>  </answer>")
    assert (parsed.status, parsed.labels, parsed.unknown_labels) == ("ok", [], [])


def test_an_answer_without_reasoning_is_parsed():
    parsed = parse_output("<answer> Atelectasis </answer>")
    assert (parsed.status, parsed.steps, parsed.labels) == ("ok", [], ["atelectasis"])
