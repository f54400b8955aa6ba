"""Synthetic cases written to a folder: the truth drawn per case, its DICOM files and labels.csv."""

import csv
from pathlib import Path

import numpy as np

from readerstudy.core.labels import CHEXPERT_LABELS

from .constants import FINDING_WEIGHTS, FINDINGS, LATERAL_FINDINGS, OFTEN_DENIED, SLUGS, UNCERTAIN_STRENGTH
from .dicom import write_dicom
from .picture import render_chest

# --- cases, labels.csv ---------------------------------------------------------------------------------


def make_synthetic_cases(out_dir, count=12, seed=0, size=(2000, 2500)):
    """Write `count` cases (sub-folders case-0001, … each with frontal.dcm) and OUT/labels.csv.

    `size` is (width, height). Returns [(case id, {slug: 1 | 0 | -1 | None})].
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = size
    cases = []
    for index in range(count):
        truth_rng, image_rng, file_rng = (np.random.default_rng([seed, index, stream]) for stream in range(3))
        truth, sides = choose_truth(truth_rng)
        pixels = render_chest(image_rng, width, height, drawn_findings(truth), sides)
        monochrome1 = file_rng.random() < 0.2  # some vendors store radiographs inverted
        view_position = view_position_for(truth, file_rng)
        folder = out_dir / case_id_for(index)
        folder.mkdir(exist_ok=True)
        write_dicom(folder / "frontal.dcm", pixels, seed, index, monochrome1, file_rng, view_position)
        cases.append((case_id_for(index), truth))
    write_labels_csv(out_dir / "labels.csv", cases)
    return cases


def case_id_for(index):
    return f"case-{index + 1:04d}"


def choose_truth(rng):
    """Labels for one case and the side of each lateral finding: ({slug: 1|0|-1|None}, {slug: side}).

    About a third are normal, about one in eight has only a line or tube, the rest one to three findings;
    the first finding is certain (so every abnormal case is abnormal), later ones uncertain now and then.
    """
    truth = dict.fromkeys(SLUGS)
    kind = rng.random()
    if kind < 0.45:
        truth["no-finding"] = 1
        if kind >= 0.33:
            truth["support-devices"] = 1
    else:
        weights = np.array([FINDING_WEIGHTS[slug] for slug in FINDINGS], dtype=float)
        chosen = rng.choice(FINDINGS, size=int(rng.integers(1, 4)), replace=False, p=weights / weights.sum())
        for position, slug in enumerate(chosen):
            truth[str(slug)] = -1 if position and rng.random() < 0.15 else 1
        if rng.random() < 0.3:
            truth["support-devices"] = 1
    denied = [slug for slug in OFTEN_DENIED if truth[slug] is None]
    if rng.random() < 0.25:
        truth[str(rng.choice(denied))] = 0
    return truth, choose_sides(rng, truth)


def choose_sides(rng, truth):
    """The patient's side ('right', 'left', or for an effusion now and then 'both') of each lateral finding."""
    sides = {}
    for slug in sorted(LATERAL_FINDINGS):
        side = "right" if rng.random() < 0.5 else "left"
        both = slug == "pleural-effusion" and rng.random() < 0.2
        if truth[slug] in (1, -1):
            sides[slug] = "both" if both else side
    return sides


def drawn_findings(truth):
    """What the image shows: {slug: strength}, uncertain labels subtle; blank and 0 labels not at all."""
    return {
        slug: 1.0 if value == 1 else UNCERTAIN_STRENGTH
        for slug, value in truth.items()
        if value in (1, -1) and slug != "no-finding"
    }


def view_position_for(truth, rng):
    """Portable AP films are the rule in patients with lines and tubes, PA otherwise."""
    return "AP" if rng.random() < (0.7 if truth["support-devices"] == 1 else 0.1) else "PA"


def write_labels_csv(path, cases):
    """CheXpert's CSV convention: a column per label headed by its name; 1, 0, -1 or blank."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["case_id", *(name for _, name in CHEXPERT_LABELS)])
        for case_id, truth in cases:
            writer.writerow([case_id, *("" if truth[slug] is None else truth[slug] for slug in SLUGS)])
