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

# A case is abnormal when any positive label is outside this set: a patient whose only positive label is
# a line or tube in place is a normal study.
NORMAL_LABEL_SLUGS = frozenset({"no-finding", "support-devices"})
