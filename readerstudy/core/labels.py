"""The CheXpert finding vocabulary (ARCHITECTURE.md: the study), as the seed migration writes it.

Slugs are stable identifiers used in CSV headers, test hooks and exports; names are what readers see and
what the model writes in its <answer>.
"""

CHEXPERT_LABELS = [
    ("atelectasis", "Atelectasis"),
    ("cardiomegaly", "Cardiomegaly"),
    ("consolidation", "Consolidation"),
    ("edema", "Edema"),
    ("enlarged-cardiomediastinum", "Enlarged Cardiomediastinum"),
    ("fracture", "Fracture"),
    ("lung-lesion", "Lung Lesion"),
    ("lung-opacity", "Lung Opacity"),
    ("no-finding", "No Finding"),
    ("pleural-effusion", "Pleural Effusion"),
    ("pleural-other", "Pleural Other"),
    ("pneumonia", "Pneumonia"),
    ("pneumothorax", "Pneumothorax"),
    ("support-devices", "Support Devices"),
]

CHEXPERT_VOCABULARY = "chexpert"
NO_FINDING = "no-finding"

# A case is abnormal when any positive label is outside this set: a patient whose only positive label is
# a line or tube in place is a normal study.
NORMAL_LABEL_SLUGS = frozenset({"no-finding", "support-devices"})


def exclusive_labels(slugs):
    """{label: the labels it may stand beside} for the labels of a vocabulary that exclude every other:
    CheXpert's No Finding stands beside Support Devices alone (a normal study with a line in place). A
    vocabulary without No Finding has none. The server checks reports with it and sends it to the page."""
    present = set(slugs)
    if NO_FINDING not in present:
        return {}
    return {NO_FINDING: sorted((NORMAL_LABEL_SLUGS - {NO_FINDING}) & present)}
