"""The simulated engine: output in the model's exact format, written from the case's ground truth, with
deliberate errors at a set rate that it records. For the demo, tests, load tests and dry runs; outputs it
writes are always shown to coordinators as simulated."""

import random
import time

from readerstudy.labels import CHEXPERT_LABELS

from ..trace_format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from .base import DIFFERENTIALS_PROMPT, REPORT_PROMPT, ConversationResult, Engine, PermanentEngineError, TurnResult

NAMES = dict(CHEXPERT_LABELS)
LATERALISED = {"pleural-effusion", "pneumothorax", "lung-lesion", "consolidation", "lung-opacity", "atelectasis",
               "pneumonia", "fracture", "pleural-other"}
# Findings a false-finding error may invent.
PLAUSIBLE_FALSE = ["atelectasis", "lung-opacity", "pleural-effusion", "edema", "cardiomegaly", "lung-lesion"]

NORMAL_TEXT = {
    "image-quality": "Image quality: PA projection with adequate inspiration and penetration; no significant rotation.",
    "devices": "Devices: no lines, tubes or other support devices are seen.",
    "central-airways": "Central airways: the trachea is midline and the carina is unremarkable.",
    "right-lung": "Right lung: clear, with normal vascular markings and no focal opacity.",
    "left-lung": "Left lung: clear, with normal vascular markings and no focal opacity.",
    "pleura": "Pleura: no pleural effusion or pneumothorax; the costophrenic angles are sharp.",
    "mediastinum": "Mediastinum: normal in width and contour.",
    "hila": "Hila: normal in size and position.",
    "heart": "Heart: the cardiac silhouette is normal in size, cardiothoracic ratio under 0.5.",
    "upper-abdomen": "Upper abdomen: no free air under the diaphragm.",
    "bones": "Bones: no acute osseous abnormality; the ribs and clavicles are intact.",
}


def finding_sentences(label, side):
    """(region, sentence) pairs that describe a finding, in the words a radiologist would dictate."""
    lung = f"{side}-lung"
    return {
        "support-devices": [("devices", "Devices: an endotracheal tube terminates about 4 cm above the carina, and a "
                                        "right internal jugular central venous catheter ends in the superior vena cava.")],
        "cardiomegaly": [("heart", "Heart: the cardiac silhouette is enlarged, cardiothoracic ratio approximately 0.6.")],
        "enlarged-cardiomediastinum": [("mediastinum", "Mediastinum: the cardiomediastinal silhouette is widened.")],
        "pleural-effusion": [("pleura", f"Pleura: blunting of the {side} costophrenic angle with a meniscus, "
                                        f"consistent with a {side} pleural effusion.")],
        "pneumothorax": [("pleura", f"Pleura: a visceral pleural line is seen at the {side} apex without lung "
                                    f"markings beyond it, consistent with a {side} pneumothorax.")],
        "pleural-other": [("pleura", f"Pleura: smooth {side} pleural thickening.")],
        "lung-lesion": [(lung, f"{side.capitalize()} lung: a well-circumscribed nodule of about 12 mm in the "
                               f"{side} mid zone.")],
        "consolidation": [(lung, f"{side.capitalize()} lung: dense consolidation with air bronchograms in the "
                                 f"{side} lower zone.")],
        "pneumonia": [(lung, f"{side.capitalize()} lung: patchy airspace opacity in the {side} lower zone, "
                             "in keeping with pneumonia in the right clinical setting.")],
        "lung-opacity": [(lung, f"{side.capitalize()} lung: an ill-defined opacity in the {side} lower zone.")],
        "atelectasis": [(lung, f"{side.capitalize()} lung: linear opacity at the {side} base, in keeping with "
                               "subsegmental atelectasis.")],
        "edema": [("hila", "Hila: perihilar haze and vascular indistinctness, in keeping with pulmonary edema.")],
        "fracture": [("bones", f"Bones: a cortical break in a {side} lateral rib, consistent with a fracture.")],
    }.get(label, [])


class SimulatedEngine(Engine):
    name = "simulated"
    is_simulated = True

    def __init__(self, model_id="simulated/nv-reason-cxr", revision="sim-1", error_rate=0.2, seed=0,
                 seconds_per_turn=0.0, **options):
        super().__init__(model_id, revision, **options)
        self.error_rate = float(error_rate)
        self.seed = seed
        self.seconds_per_turn = float(seconds_per_turn)

    def converse(self, image, prompts, params, case=None):
        if case is None:
            raise PermanentEngineError("the simulated engine writes from ground truth and needs the case")
        rng = random.Random(f"{self.seed}:{case.public_id}")
        labels, sides, errors = self._labels(case.truth, rng)
        turns = []
        for prompt in prompts:
            started = time.perf_counter()
            time.sleep(self.seconds_per_turn)
            text = self._answer(prompt, labels, sides, errors, turns)
            turns.append(TurnResult(prompt=prompt, text=text, tokens_in=len(prompt.split()) + 256,
                                    tokens_out=len(text.split()), seconds=time.perf_counter() - started))
        return ConversationResult(turns=turns, deliberate_errors=errors)

    def software_versions(self):
        return {"engine": "simulated", "version": self.revision}

    def _labels(self, truth, rng):
        """The labels it will answer, the side of each lateral finding, and the errors it made on purpose."""
        labels = [slug for slug, _ in CHEXPERT_LABELS if truth.get(slug) == "positive"
                  or (truth.get(slug) == "uncertain" and rng.random() < 0.5)]
        labels = [slug for slug in labels if slug != "no-finding"]
        sides = {slug: rng.choice(["right", "left"]) for slug, _ in CHEXPERT_LABELS}
        errors = []
        if rng.random() < self.error_rate:
            errors.append(self._deliberate_error(labels, sides, rng))
        findings = [slug for slug in labels if slug != "support-devices"]
        # CheXpert's No Finding: no finding other than support devices.
        return labels + ([] if findings else ["no-finding"]), sides, errors

    def _deliberate_error(self, labels, sides, rng):
        lateral = [slug for slug in labels if slug in LATERALISED]
        kinds = ["false_finding"] + (["missed_finding"] if labels else []) + (["wrong_side"] if lateral else [])
        kind = rng.choice(kinds)
        if kind == "missed_finding":
            label = rng.choice(labels)
            labels.remove(label)
            return {"kind": kind, "label": label, "region": finding_sentences(label, sides[label])[0][0]}
        if kind == "wrong_side":
            label = rng.choice(lateral)
            true_side = sides[label]
            sides[label] = "left" if true_side == "right" else "right"
            return {"kind": kind, "label": label, "stated": sides[label], "true": true_side,
                    "region": finding_sentences(label, sides[label])[0][0]}
        label = rng.choice([slug for slug in PLAUSIBLE_FALSE if slug not in labels])
        labels.append(label)
        return {"kind": kind, "label": label, "region": finding_sentences(label, sides[label])[0][0]}

    def _answer(self, prompt, labels, sides, errors, previous):
        if not previous:
            return self._trace(labels, sides)
        if prompt.strip().lower() == REPORT_PROMPT.lower():
            return self._structured_report(labels, sides)
        if prompt.strip().lower() == DIFFERENTIALS_PROMPT.lower():
            return self._differentials(labels)
        return "I can describe the findings, provide differentials or write a structured report for this image."

    def _region_texts(self, labels, sides):
        texts = {region: [] for region in NORMAL_TEXT}
        for label in labels:
            for region, sentence in finding_sentences(label, sides[label]):
                texts[region].append(sentence)
        return {region: " ".join(found) if found else NORMAL_TEXT[region] for region, found in texts.items()}

    def _trace(self, labels, sides):
        paragraphs = list(self._region_texts(labels, sides).values())
        findings = [NAMES[slug].lower() for slug in labels if slug != "no-finding"]
        summary = ("In summary, " + (", ".join(findings) if findings else "no acute cardiopulmonary abnormality")
                   + ".")
        answer = ", ".join(NAMES[slug] for slug in labels)
        return f"{THINK_OPEN}\n" + "\n\n".join(paragraphs + [summary]) + f"\n{THINK_CLOSE}\n{ANSWER_OPEN} {answer} {ANSWER_CLOSE}"

    def _structured_report(self, labels, sides):
        texts = self._region_texts(labels, sides)
        findings = [slug for slug in labels if slug != "no-finding"]
        impression = [f"{i}. {NAMES[slug]}" + (f" ({sides[slug]})" if slug in LATERALISED else "") + "."
                      for i, slug in enumerate(findings, start=1)] or ["1. No acute cardiopulmonary abnormality."]
        body = lambda *regions: " ".join(texts[r].split(": ", 1)[-1] for r in regions)  # noqa: E731
        return "\n".join([
            "EXAMINATION: Chest radiograph, single frontal view.",
            "TECHNIQUE: " + body("image-quality"),
            "FINDINGS:",
            "Lines/tubes: " + body("devices"),
            "Lungs: " + body("central-airways", "right-lung", "left-lung"),
            "Pleura: " + body("pleura"),
            "Heart and mediastinum: " + body("heart", "mediastinum", "hila"),
            "Bones and soft tissues: " + body("bones", "upper-abdomen"),
            "IMPRESSION:",
            *impression,
        ])

    def _differentials(self, labels):
        findings = [NAMES[slug] for slug in labels if slug not in ("no-finding", "support-devices")]
        if not findings:
            return "No abnormality that calls for a differential diagnosis."
        return "\n".join(f"- {name}: consider infection, aspiration, or a neoplastic process; correlate clinically."
                         for name in findings)
