"""The simulated engine: output in NV-Reason-CXR-3B's exact format, dictated from the case's ground truth,
with deliberate errors at a set rate that it records. For the demo, tests, load tests and dry runs; its
outputs are always shown to coordinators as simulated.

Decisions:
- No Finding follows CheXpert: it is answered when no label other than Support Devices is positive, so a
  study whose only finding is a line or tube answers "No Finding, Support Devices" (readerstudy.core.labels'
  NORMAL_LABEL_SLUGS). The truth's own No Finding value is ignored; it is derived.
- The truth carries no sides, so each lateral finding gets a side drawn from (seed, case, label) alone.
- Every random choice is drawn from its own stream seeded by (seed, case, purpose): the same case and seed
  give identical text in any process, and raising error_rate only adds errors to cases, never moves them.
- Token counts are whitespace word counts; tokens_in also counts the conversation so far and the image
  (IMAGE_TOKENS), as a server counts its prompt.
"""

import random
import re
import time
from dataclasses import dataclass

from readerstudy.core.labels import CHEXPERT_LABELS, NORMAL_LABEL_SLUGS

from ..trace_format import ANSWER_CLOSE, ANSWER_OPEN, REGION_SLUGS, THINK_CLOSE, THINK_OPEN
from .base import (
    DIFFERENTIALS_PROMPT,
    ConversationResult,
    Engine,
    PermanentEngineError,
    TurnKind,
    TurnResult,
    each_turn,
)

NAMES = dict(CHEXPERT_LABELS)
ORDER = [slug for slug, _ in CHEXPERT_LABELS]
# A 476×476 image, the model's largest input, is 17×17 merged 28-pixel patches.
IMAGE_TOKENS = 289

# Each region's paragraph: what it says when nothing is found there, and how it introduces its findings
# ("{}": the findings joined with "; "). Every paragraph opens with words naming its region, as a dictated
# systematic review does, and as the parser expects.
REGION_TEXT = {
    "image-quality": (
        "Image quality is adequate: a frontal projection with good inspiration, adequate "
        "penetration and no significant rotation.",
        None,
    ),
    "devices": ("No lines, tubes or other support devices are seen.", "Support devices are in place: {}."),
    "central-airways": ("The trachea is midline and the central airways are patent.", None),
    "right-lung": (
        "The right lung is clear, with normal vascular markings and no focal opacity.",
        "The right lung shows {}.",
    ),
    "left-lung": (
        "The left lung is clear, with normal vascular markings and no focal opacity.",
        "The left lung shows {}.",
    ),
    "pleura": (
        "The pleural spaces are clear: the costophrenic angles are sharp, with no effusion or pneumothorax.",
        "In the pleural spaces there is {}.",
    ),
    "mediastinum": ("The mediastinum is normal in width and contour.", "{}."),
    "hila": ("The hila are normal in size and position.", "The hila show {}."),
    "heart": ("The heart is normal in size, cardiothoracic ratio under 0.5.", "{}."),
    "upper-abdomen": ("The upper abdomen is unremarkable, with no free air under the diaphragm.", None),
    "bones": (
        "The bones show no acute osseous abnormality; the ribs, clavicles and spine are intact.",
        "The bones show {}.",
    ),
}

# How each label reads in the review: (region, phrase) pairs, the first being where the finding is named.
# "{side}" is the side stated for a lateral finding.
FINDINGS = {
    "support-devices": [
        (
            "devices",
            "an endotracheal tube with its tip about 4 cm above the carina, and a right "
            "internal jugular central venous catheter with its tip in the lower superior "
            "vena cava",
        )
    ],
    "cardiomegaly": [("heart", "The cardiac silhouette is enlarged, cardiothoracic ratio approximately 0.6")],
    "enlarged-cardiomediastinum": [
        ("mediastinum", "The mediastinum is widened, with an enlarged cardiomediastinal silhouette")
    ],
    "edema": [
        ("hila", "perihilar haziness and vascular indistinctness, in keeping with pulmonary edema"),
        ("right-lung", "increased interstitial markings with Kerley B lines"),
        ("left-lung", "increased interstitial markings with Kerley B lines"),
    ],
    "pleural-effusion": [
        (
            "pleura",
            "blunting of the {side} costophrenic angle with a meniscus, consistent with a "
            "small {side} pleural effusion",
        )
    ],
    "pneumothorax": [
        (
            "pleura",
            "a visceral pleural line at the {side} apex with no lung markings beyond it, "
            "consistent with a {side} pneumothorax",
        )
    ],
    "pleural-other": [("pleura", "smooth {side} apical pleural thickening")],
    "lung-lesion": [("{side}-lung", "a well-circumscribed nodule of about 12 mm in the {side} mid zone")],
    "consolidation": [("{side}-lung", "dense consolidation with air bronchograms in the {side} lower zone")],
    "pneumonia": [
        (
            "{side}-lung",
            "patchy airspace opacity in the {side} lower zone, in keeping with pneumonia "
            "in the appropriate clinical setting",
        )
    ],
    "lung-opacity": [("{side}-lung", "an ill-defined opacity in the {side} mid zone")],
    "atelectasis": [("{side}-lung", "linear opacity at the {side} base, in keeping with subsegmental atelectasis")],
    "fracture": [("bones", "a cortical break in the {side} lateral sixth rib, consistent with an acute rib fracture")],
}
LATERAL = sorted(label for label, places in FINDINGS.items() if "{side}" in places[0][1])

# The finding in a few words, for the summary paragraph, the report's impression and the differentials.
IMPRESSIONS = {
    "support-devices": "endotracheal tube and central venous catheter in satisfactory position",
    "cardiomegaly": "cardiomegaly",
    "enlarged-cardiomediastinum": "enlarged cardiomediastinum",
    "edema": "pulmonary edema",
    "pleural-effusion": "small {side} pleural effusion",
    "pneumothorax": "{side} pneumothorax",
    "pleural-other": "{side} apical pleural thickening",
    "lung-lesion": "{side} mid zone pulmonary nodule",
    "consolidation": "{side} lower zone consolidation",
    "pneumonia": "{side} lower zone pneumonia",
    "lung-opacity": "{side} mid zone opacity",
    "atelectasis": "{side} basal subsegmental atelectasis",
    "fracture": "acute {side} sixth rib fracture",
}
NORMAL_IMPRESSION = "no acute cardiopulmonary abnormality"

DIFFERENTIALS = {
    "cardiomegaly": "dilated cardiomyopathy, pericardial effusion, valvular heart disease",
    "enlarged-cardiomediastinum": "aortic unfolding or aneurysm, mediastinal mass or lymphadenopathy, "
    "magnification on an AP projection",
    "edema": "cardiogenic pulmonary edema, fluid overload, acute respiratory distress syndrome",
    "pleural-effusion": "heart failure, parapneumonic effusion, malignant effusion",
    "pneumothorax": "primary spontaneous pneumothorax, iatrogenic pneumothorax, skin fold mimicking a pleural line",
    "pleural-other": "pleural scarring after infection, asbestos-related pleural disease, mesothelioma",
    "lung-lesion": "primary lung carcinoma, metastasis, granuloma, hamartoma",
    "consolidation": "bacterial pneumonia, aspiration, pulmonary haemorrhage, organising pneumonia",
    "pneumonia": "bacterial pneumonia, viral pneumonia, aspiration pneumonitis",
    "lung-opacity": "infection, atelectasis, pulmonary haemorrhage, early neoplasm",
    "atelectasis": "hypoventilation, mucus plugging, early consolidation",
    "fracture": "acute traumatic fracture, pathological fracture, healing fracture",
}

# Absent findings that a false-finding error invents: common, and each described in its own region.
PLAUSIBLE_FALSE = [
    "atelectasis",
    "cardiomegaly",
    "consolidation",
    "edema",
    "lung-lesion",
    "lung-opacity",
    "pleural-effusion",
    "pneumothorax",
]
OTHER_SIDE = {"right": "left", "left": "right"}
GENERIC_REPLY = (
    "I can review this chest radiograph for abnormalities and support devices, provide "
    "differentials for its findings, or write a structured report."
)


@dataclass
class Reading:
    """What the simulated radiologist concluded for one case, deliberate error included."""

    labels: list  # answer slugs in vocabulary order, No Finding included when it applies
    sides: dict  # stated side of each lateral finding
    errors: list

    @property
    def findings(self):
        """Every answered label but No Finding, devices included: what the text describes."""
        return [label for label in self.labels if label != "no-finding"]


class SimulatedEngine(Engine):
    name = "simulated"
    is_simulated = True

    def __init__(
        self,
        model_id="simulated/nv-reason-cxr",
        revision="sim-1",
        error_rate=0.2,
        seed=0,
        seconds_per_turn=0.0,
        **options,
    ):
        super().__init__(model_id, revision, **options)
        self.error_rate = float(error_rate)
        self.seed = seed
        self.seconds_per_turn = float(seconds_per_turn)

    def converse(self, image, prompts, params, case=None, keep_alive=None):
        if case is None:
            raise PermanentEngineError("the simulated engine writes from the case's ground truth and needs the case")
        reading = self.read(case)
        turns, seen = [], IMAGE_TOKENS
        for index, prompt in each_turn(prompts, keep_alive):
            started = time.perf_counter()
            time.sleep(self.seconds_per_turn)
            text, hit_limit = within_token_limit(reply(prompt, index == 0, reading), params.max_new_tokens)
            seen += word_count(prompt.text)
            turns.append(
                TurnResult(
                    prompt=prompt,
                    text=text,
                    tokens_in=seen,
                    tokens_out=word_count(text),
                    seconds=time.perf_counter() - started,
                    hit_token_limit=hit_limit,
                )
            )
            seen += word_count(text)
        return ConversationResult(turns=turns, deliberate_errors=reading.errors)

    def software_versions(self):
        return {"engine": "simulated", "version": self.revision}

    def read(self, case) -> Reading:
        """What it will answer for the case: the truth's positive labels, the sides and the deliberate error."""
        truth = case.truth
        positive = {
            label
            for label in ORDER
            if label != "no-finding"
            and (
                truth.get(label) == "positive"
                or (truth.get(label) == "uncertain" and self._rng(case, "uncertain", label).random() < 0.5)
            )
        }
        sides = {label: self._rng(case, "side", label).choice(sorted(OTHER_SIDE)) for label in LATERAL}
        errors = []
        if self._rng(case, "error").random() < self.error_rate:
            errors.append(self._deliberate_error(case, positive, sides))
        if positive <= NORMAL_LABEL_SLUGS:
            positive.add("no-finding")
        return Reading(labels=sorted(positive, key=ORDER.index), sides=sides, errors=errors)

    def _rng(self, case, *purpose):
        return random.Random(":".join(map(str, (self.seed, case.public_id, *purpose))))

    def _deliberate_error(self, case, positive, sides):
        """Make one error in `positive` or `sides` (changed in place) and describe it."""
        rng = self._rng(case, "error-kind")
        # An uncertain label is neither clearly present nor clearly absent: no false finding there.
        absent = [label for label in PLAUSIBLE_FALSE if case.truth.get(label) not in ("positive", "uncertain")]
        lateral = sorted(positive & set(LATERAL))
        kinds = [
            kind
            for kind, possible in (("missed_finding", positive), ("false_finding", absent), ("wrong_side", lateral))
            if possible
        ]
        kind = rng.choice(kinds)
        if kind == "missed_finding":
            label = rng.choice(sorted(positive))
            positive.remove(label)
        elif kind == "false_finding":
            label = rng.choice(absent)
            positive.add(label)
        else:
            label = rng.choice(lateral)
            true_side, sides[label] = sides[label], OTHER_SIDE[sides[label]]
            return {
                "kind": kind,
                "label": label,
                "stated": sides[label],
                "true": true_side,
                "region": region_of(label, sides),
            }
        return {"kind": kind, "label": label, "region": region_of(label, sides)}


def region_of(label, sides):
    """The review region where a finding is named (a lateral lung finding: the lung of its stated side)."""
    return FINDINGS[label][0][0].format(side=sides.get(label, ""))


def reply(prompt, first, reading):
    """The configuration says which turn is the report, in whatever words it asks; differentials, the other
    follow-up the model knows, are recognised by the model card's wording."""
    if prompt.kind == TurnKind.REPORT:
        return structured_report(reading)
    if prompt.text.strip().rstrip(".").lower() == DIFFERENTIALS_PROMPT.lower():
        return differentials(reading)
    # The turn that brings the image gets the systematic review, whatever its wording, as the model was trained.
    return trace(reading) if first else GENERIC_REPLY


def region_paragraphs(reading):
    """{region: paragraph} for every reviewed region, in review order."""
    found = {region: [] for region in REGION_TEXT}
    for label in reading.findings:
        side = reading.sides.get(label, "")
        for region, phrase in FINDINGS[label]:
            found[region.format(side=side)].append(phrase.format(side=side))
    return {
        region: REGION_TEXT[region][1].format("; ".join(found[region])) if found[region] else REGION_TEXT[region][0]
        for region in REGION_SLUGS
        if region in REGION_TEXT
    }


def impressions(reading):
    """The findings in a few words each, devices last, or the normal impression."""
    labels = sorted(reading.findings, key=lambda label: label == "support-devices")
    stated = [IMPRESSIONS[label].format(side=reading.sides.get(label, "")) for label in labels]
    return stated if set(labels) - NORMAL_LABEL_SLUGS else [NORMAL_IMPRESSION, *stated]


def trace(reading):
    paragraphs = [*region_paragraphs(reading).values(), "In summary, " + "; ".join(impressions(reading)) + "."]
    answer = ", ".join(NAMES[label] for label in reading.labels)
    return f"{THINK_OPEN}\n" + "\n\n".join(paragraphs) + f"\n{THINK_CLOSE}\n{ANSWER_OPEN} {answer} {ANSWER_CLOSE}"


def structured_report(reading):
    text = region_paragraphs(reading)
    numbered = [f"{number}. {capitalised(impression)}." for number, impression in enumerate(impressions(reading), 1)]
    return "\n".join(
        [
            "EXAMINATION: Chest radiograph, single frontal view.",
            f"TECHNIQUE: {text['image-quality']}",
            "",
            "FINDINGS:",
            f"Lines/tubes: {text['devices']}",
            f"Lungs: {text['central-airways']} {text['right-lung']} {text['left-lung']}",
            f"Pleura: {text['pleura']}",
            f"Heart and mediastinum: {text['heart']} {text['mediastinum']} {text['hila']}",
            f"Bones: {text['bones']}",
            f"Upper abdomen: {text['upper-abdomen']}",
            "",
            "IMPRESSION:",
            *numbered,
        ]
    )


def differentials(reading):
    findings = [label for label in reading.findings if label in DIFFERENTIALS]
    if not findings:
        return "No abnormality is seen that calls for a differential diagnosis; the study is within normal limits."
    lines = [
        f"{number}. {capitalised(IMPRESSIONS[label].format(side=reading.sides.get(label, '')))}: "
        f"{DIFFERENTIALS[label]}."
        for number, label in enumerate(findings, 1)
    ]
    return "\n".join(["Differential diagnosis:", *lines, "Correlate with the clinical history and prior imaging."])


def capitalised(phrase):
    return phrase[:1].upper() + phrase[1:]


def word_count(text):
    return len(text.split())


def within_token_limit(text, max_new_tokens):
    """The text cut after max_new_tokens words, as generation stops at the limit, and whether it was cut."""
    words = list(re.finditer(r"\S+", text))
    if len(words) <= max_new_tokens:
        return text, False
    return text[: words[max_new_tokens].start()].rstrip(), True
