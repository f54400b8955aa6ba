"""The output parser, on realistic traces in the model's exact format and on every malformed form.

DB-free: run with `pytest -p no:django --noconftest tests/test_parsing.py` or with the Django plugin.
"""

import pytest

from inference.parsing import parse_output, region_of
from inference.trace_format import OTHER_REGION, REFUSAL_TEXT

REVIEW_ORDER = [
    "image-quality",
    "devices",
    "central-airways",
    "right-lung",
    "left-lung",
    "pleura",
    "mediastinum",
    "hila",
    "heart",
    "upper-abdomen",
    "bones",
    "overall",
]

# Blank-line separated paragraphs, dictated as prose without headings.
NORMAL = """<think>
The image quality is adequate: a PA projection with good inspiration, ten posterior ribs visible, and no significant rotation.

No endotracheal tube, central venous catheter or other support device is present.

The trachea is midline and the carina is unremarkable; the main bronchi are patent.

The right lung is clear, with normal vascular markings and no focal consolidation, nodule or mass.

The left lung is clear, without focal opacity; the retrocardiac region is unremarkable.

There is no pleural effusion or pneumothorax, and both costophrenic angles are sharp.

The mediastinum is of normal width and contour.

Both hila are normal in size and position.

The heart is normal in size, with a cardiothoracic ratio below 0.5.

No free air is seen under the diaphragm, and the upper abdomen is unremarkable.

The visualised bones show no acute fracture or lytic lesion.

In summary, a normal chest radiograph with no acute cardiopulmonary abnormality.
</think>
<answer>
No Finding
</answer>"""

# One paragraph per line with headings; non-ASCII text before and inside the first steps, so every later
# offset differs between code points, UTF-16 units and UTF-8 bytes.
CARDIOMEGALY_EFFUSION = """🩻 Réponse du modèle :
<think>
Image quality: AP semi-erect projection, mildly rotated; inspiration ≥ 8 posterior ribs.
Devices: none identified.
Central airways: the trachea is midline.
Right lung: aerated, with no focal consolidation; the base is partly obscured by fluid.
Left lung: clear, with mild upper lobe venous diversion but no frank interstitial edema.
Pleura: moderate right pleural effusion with a meniscus obscuring the right hemidiaphragm; no pneumothorax.
Mediastinum: normal width; the aortic knob is unremarkable.
Hila: not enlarged.
Heart: enlarged cardiac silhouette, cardiothoracic ratio about 0.62 even allowing for the AP projection.
Upper abdomen: no free intraperitoneal air.
Bones: degenerative changes of the thoracic spine; no acute fracture.
Overall: cardiomegaly with a moderate right pleural effusion, possibly congestive heart failure.
</think>
<answer> Cardiomegaly, Pleural Effusion. </answer>"""

# Blank lines, prose; "portable" must not make the first paragraph about devices, and the pleura paragraph
# mentions a "pleural line" that is not a line in the devices sense.
PNEUMOTHORAX_TUBE = """<think>
Portable AP supine radiograph with adequate inspiration and penetration.

A right-sided pigtail chest tube projects over the right mid hemithorax, its tip directed toward the apex.

The trachea is midline without deviation to the left.

The right lung is partially collapsed, its edge displaced about 2 cm from the lateral chest wall.

The left lung is clear.

There is a moderate right apical and lateral pneumothorax, with a visible visceral pleural line and absent lung markings beyond it; no pleural effusion.

The mediastinum is midline, with no shift to suggest tension.

The hila are unremarkable.

Cardiac size is within normal limits.

No subdiaphragmatic free air.

No displaced rib fracture; mild subcutaneous emphysema along the right lateral chest wall at the tube insertion site.

In summary, a moderate right pneumothorax persists despite a right chest tube in place; no tension.
</think>
<answer>Pneumothorax, Support Devices</answer>"""

# One block of prose: one step per sentence. The consolidation sentence names only "left lower lobe" and
# "air bronchograms", which must not read as the central airways.
NODULE_CONSOLIDATION = """<think>
Frontal chest radiograph of adequate technique, with satisfactory inspiration and no rotation. No lines or tubes are seen. The trachea and main bronchi are midline and patent. In the right lung there is a well-circumscribed 1.5 cm nodule projecting over the right upper lobe. Dense consolidation with air bronchograms occupies the left lower lobe. No pleural effusion or pneumothorax is seen. The mediastinal contours are normal. The hila are not enlarged. The heart size is normal. The upper abdomen is unremarkable. The osseous structures are intact. In summary, a right upper lobe pulmonary nodule and left lower lobe consolidation, the latter most consistent with pneumonia in the appropriate clinical setting.
</think>
<answer> Lung Lesion, Consolidation </answer>"""


@pytest.mark.parametrize(
    ("raw", "labels"),
    [
        (NORMAL, ["no-finding"]),
        (CARDIOMEGALY_EFFUSION, ["cardiomegaly", "pleural-effusion"]),
        (PNEUMOTHORAX_TUBE, ["pneumothorax", "support-devices"]),
        (NODULE_CONSOLIDATION, ["lung-lesion", "consolidation"]),
    ],
    ids=["normal", "cardiomegaly-effusion", "pneumothorax-tube", "nodule-consolidation"],
)
def test_a_realistic_trace_gives_twelve_steps_in_review_order_with_exact_offsets(raw, labels):
    parsed = parse_output(raw)
    assert parsed.status == "ok"
    assert [step.region for step in parsed.steps] == REVIEW_ORDER
    assert [step.index for step in parsed.steps] == list(range(12))
    for step in parsed.steps:
        assert raw[step.start : step.end] == step.text == step.text.strip() != ""
    assert (parsed.labels, parsed.unknown_labels) == (labels, [])
    assert raw[parsed.reasoning_start : parsed.reasoning_end] == parsed.reasoning
    assert parsed.reasoning == raw.split("<think>")[1].split("</think>")[0]
    assert raw[parsed.answer_start : parsed.answer_end] == raw.split("<answer>")[1].split("</answer>")[0]


def test_step_texts_are_the_paragraphs_lines_or_sentences_as_written():
    assert parse_output(NORMAL).steps[8].text == "The heart is normal in size, with a cardiothoracic ratio below 0.5."
    assert parse_output(CARDIOMEGALY_EFFUSION).steps[0].text == (
        "Image quality: AP semi-erect projection, mildly rotated; inspiration ≥ 8 posterior ribs."
    )
    sentences = parse_output(NODULE_CONSOLIDATION).steps
    assert sentences[3].text == (
        "In the right lung there is a well-circumscribed 1.5 cm nodule projecting over the right upper lobe."
    )
    assert sentences[11].text.startswith("In summary, a right upper lobe") and sentences[11].text.endswith("setting.")


def test_offsets_count_code_points_not_bytes_or_utf16_units():
    raw = "\U0001fa7b \u00e9\u2265\n<think>\nHeart: \u2265 0.6.\n</think><answer>Cardiomegaly</answer>"
    parsed = parse_output(raw)
    # 🩻 is one code point (two UTF-16 units, four UTF-8 bytes); é and ≥ are one code point each.
    assert (parsed.steps[0].start, parsed.steps[0].end) == (13, 26)
    assert (parsed.reasoning_start, parsed.reasoning_end) == (12, 27)
    assert (parsed.answer_start, parsed.answer_end) == (43, 55)
    assert len(raw[:13].encode("utf-8")) == 19 and len(raw[:13].encode("utf-16-le")) // 2 == 14
    heart = parse_output(CARDIOMEGALY_EFFUSION).steps[8]
    assert (
        heart.start
        == CARDIOMEGALY_EFFUSION.index("Heart: enlarged")
        != len(CARDIOMEGALY_EFFUSION[: heart.start].encode("utf-8"))
    )


def test_stray_whitespace_text_outside_the_tags_and_upper_case_tags_are_tolerated():
    raw = (
        "Sure, here is my read.\r\n  <THINK>  \n\n\n   Heart: enlarged.  \n \n\n\tBones: intact. \n\n </Think >"
        "\n\n  < ANSWER >\n\n cardiomegaly ,  edema.\n</ANSWER> Thanks for asking!"
    )
    parsed = parse_output(raw)
    assert parsed.status == "ok"
    assert [(s.text, s.region) for s in parsed.steps] == [("Heart: enlarged.", "heart"), ("Bones: intact.", "bones")]
    assert all(raw[s.start : s.end] == s.text for s in parsed.steps)
    assert parsed.labels == ["cardiomegaly", "edema"]


@pytest.mark.parametrize(
    "raw",
    [
        "<think>\nImage quality: adequate.\n\nHeart: the cardiac silh",
        "<think>\nImage quality: adequate.\n\nHeart: the cardiac silh</thi",
    ],
    ids=["cut-in-a-word", "cut-in-the-closing-tag"],
)
def test_reasoning_cut_by_the_token_limit_is_truncated_and_keeps_what_was_written(raw):
    parsed = parse_output(raw)
    assert parsed.status == "truncated"
    assert [(s.text, s.region) for s in parsed.steps] == [
        ("Image quality: adequate.", "image-quality"),
        ("Heart: the cardiac silh", "heart"),
    ]
    assert (parsed.reasoning_end, parsed.labels, parsed.answer_start) == (raw.index("Heart") + 23, [], None)


def test_an_answer_cut_by_the_token_limit_is_truncated_and_gives_no_labels():
    raw = "<think>\nHeart: normal.\n</think>\n<answer> Cardiomegaly, Pleural Eff"
    parsed = parse_output(raw)
    assert (parsed.status, parsed.labels, parsed.unknown_labels) == ("truncated", [], [])
    assert raw[parsed.answer_start : parsed.answer_end] == " Cardiomegaly, Pleural Eff"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("<think>\nHeart: normal.\n</think>", "truncated"),
        ("<think>\nHeart: normal.\n</think>\n  \n", "truncated"),
        ("<think>\nHeart: normal.\n</think>\n<ans", "truncated"),
        ("<think>\nHeart: normal.\n</think>\nThe findings are cardiomegaly.", "malformed"),
        ("The lungs look fine to me.", "malformed"),
        ("", "malformed"),
        ("   \n ", "malformed"),
    ],
)
def test_what_follows_the_reasoning_decides_between_truncated_and_malformed(raw, status):
    assert parse_output(raw).status == status


def test_a_forgotten_closing_think_before_a_complete_answer_is_ok():
    raw = "<think>\nHeart: enlarged.\n<answer>Cardiomegaly</answer>"
    parsed = parse_output(raw)
    assert (parsed.status, parsed.labels, [s.text for s in parsed.steps]) == (
        "ok",
        ["cardiomegaly"],
        ["Heart: enlarged."],
    )


def test_a_closing_think_without_an_opening_one_starts_the_reasoning_at_the_beginning():
    raw = "Heart: enlarged.\n\nBones: intact.\n</think>\n<answer>Cardiomegaly</answer>"
    parsed = parse_output(raw)
    assert (parsed.status, parsed.reasoning_start, len(parsed.steps)) == ("ok", 0, 2)


@pytest.mark.parametrize(
    "raw",
    [
        REFUSAL_TEXT,
        "  \n please provide a frontal chest x-ray image  \n",
        "Please provide a frontal chest X ray image!!",
        "This appears to be a hand radiograph. Please, provide a frontal chest xray image.",
        "<think>This is not a chest radiograph.</think>\n<answer>Please provide a frontal chest X-ray image.</answer>",
        "<think>This is an abdominal film.</think>\nPlease provide a frontal chest X-ray image.",
    ],
)
def test_refusals_are_recognised_in_any_spelling(raw):
    parsed = parse_output(raw)
    assert (parsed.status, parsed.labels, parsed.unknown_labels) == ("refused", [], [])


def test_a_request_that_is_not_the_refusal_sentence_is_malformed():
    assert parse_output("Please provide the clinical history.").status == "malformed"


@pytest.mark.parametrize(
    ("item", "slug"),
    [
        ("effusion", "pleural-effusion"),
        ("Pleural Effusions", "pleural-effusion"),
        ("enlarged heart", "cardiomegaly"),
        ("CARDIOMEGALY", "cardiomegaly"),
        ("pneumonia", "pneumonia"),
        ("lung nodule", "lung-lesion"),
        ("Nodule", "lung-lesion"),
        ("mass", "lung-lesion"),
        ("opacity", "lung-opacity"),
        ("Airspace opacity", "lung-opacity"),
        ("Lung Opacities", "lung-opacity"),
        ("tube", "support-devices"),
        ("lines", "support-devices"),
        ("catheter", "support-devices"),
        ("Support Device", "support-devices"),
        ("support devices", "support-devices"),
        ("normal", "no-finding"),
        ("no findings", "no-finding"),
        ("No acute findings", "no-finding"),
        ("PTX", "pneumothorax"),
        ("fractures", "fracture"),
        ("Fracture", "fracture"),
        ("atelectasis", "atelectasis"),
        ("edema", "edema"),
        ("pulmonary edema", "edema"),
        ("consolidation", "consolidation"),
        ("enlarged   cardiomediastinum", "enlarged-cardiomediastinum"),
        ("widened mediastinum", "enlarged-cardiomediastinum"),
        ("pleural thickening", "pleural-other"),
        ("pleural-other", "pleural-other"),
    ],
)
def test_answer_synonyms_map_to_vocabulary_slugs(item, slug):
    assert parse_output(f"<think>x</think><answer>{item}</answer>").labels == [slug]


def test_separators_duplicates_and_unknown_labels():
    parsed = parse_output(
        "<think>x</think><answer> effusion; Pleural Effusion, PTX\n- lung nodule, Unicorn sign, "
        "support devices,, Unicorn sign, No Finding. </answer>"
    )
    assert parsed.labels == ["pleural-effusion", "pneumothorax", "lung-lesion", "support-devices", "no-finding"]
    assert parsed.unknown_labels == ["Unicorn sign"]
    assert parsed.status == "ok"


@pytest.mark.parametrize("answer", ["<answer></answer>", "<answer>  \n </answer>", "<answer> . </answer>"])
def test_an_empty_answer_is_ok_with_no_labels(answer):
    parsed = parse_output(f"<think>\nHeart: normal.\n</think>\n{answer}")
    assert (parsed.status, parsed.labels, parsed.unknown_labels) == ("ok", [], [])


def test_an_answer_without_reasoning_is_ok_with_no_steps():
    parsed = parse_output("<answer> Atelectasis </answer>")
    assert (parsed.status, parsed.steps, parsed.labels, parsed.reasoning_start) == ("ok", [], ["atelectasis"], None)


def test_another_vocabulary_uses_only_its_own_labels_and_their_synonyms():
    vocabulary = [("pneumothorax", "Pneumothorax"), ("nodule", "Nodule")]
    parsed = parse_output("<answer>PTX, Nodule, effusion</answer>", vocabulary)
    assert (parsed.labels, parsed.unknown_labels) == (["pneumothorax", "nodule"], ["effusion"])


@pytest.mark.parametrize(
    ("text", "previous", "region"),
    [
        ("Mediastinum and heart: unremarkable.", "hila", "heart"),  # equal weight: not behind the previous step
        ("Mediastinum and heart: unremarkable.", "pleura", "mediastinum"),  # both ahead: the one named first
        ("Clear right lung with no pleural effusion or pneumothorax.", "central-airways", "right-lung"),
        ("In summary, cardiomegaly, pleural effusion.", "bones", "overall"),
        ("Pleura: a visceral pleural line at the apex.", None, "pleura"),  # the heading outweighs "line"
        ("The lungs are clear.", "left-lung", OTHER_REGION),
        ("Consolidation in the right lower lobe.", None, "right-lung"),
        ("Sternotomy wires are intact; no rib fracture.", "heart", "bones"),  # devices come before the heart
    ],
)
def test_region_of_weighs_headings_opening_words_and_the_review_order(text, previous, region):
    assert region_of(text, previous) == region


def test_a_step_about_no_region_does_not_reset_the_review_order():
    raw = "<think>\nHila: normal.\n\nThe lungs are clear.\n\nMediastinum and heart: normal.\n</think><answer></answer>"
    assert [s.region for s in parse_output(raw).steps] == ["hila", OTHER_REGION, "heart"]
