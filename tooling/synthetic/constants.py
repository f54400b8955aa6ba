"""What the synthetic cases are made of: the DICOM class, the pixel range and the findings drawn."""

from readerstudy.core.labels import CHEXPERT_LABELS

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
MAX_VALUE = 4095  # 12 bits stored
SLUGS = [slug for slug, _ in CHEXPERT_LABELS]
FINDINGS = [slug for slug in SLUGS if slug not in ("no-finding", "support-devices")]
# How often each finding is drawn for an abnormal case, roughly as common as in CheXpert.
FINDING_WEIGHTS = {
    "lung-opacity": 4,
    "pleural-effusion": 4,
    "cardiomegaly": 3,
    "atelectasis": 3,
    "edema": 3,
    "consolidation": 2,
    "pneumothorax": 2,
    "lung-lesion": 2,
    "pneumonia": 1,
    "enlarged-cardiomediastinum": 1,
    "fracture": 1,
    "pleural-other": 1,
}
# Findings that lie on one side; effusions may lie on both.
LATERAL_FINDINGS = {
    "pleural-effusion",
    "pneumothorax",
    "lung-lesion",
    "consolidation",
    "pneumonia",
    "lung-opacity",
    "atelectasis",
    "fracture",
    "pleural-other",
}
# Findings a report often denies in so many words ("no pneumothorax"): the source of CheXpert's zeros.
OFTEN_DENIED = ["pneumothorax", "pleural-effusion", "consolidation", "edema"]
UNCERTAIN_STRENGTH = 0.55  # an uncertain label is drawn subtle, as the reader who hedged saw it


SIDES = {"right": -1, "left": 1}
