"""The shape of NV-Reason-CXR-3B's output (ARCHITECTURE.md: the study), shared by the parser and the simulated engine.

    <think> paragraph … paragraph </think>
    <answer> Label, Label </answer>

The paragraphs follow a fixed review order; each is tagged with the region it reviews.
"""

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
REFUSAL_TEXT = "Please provide a frontal chest X-ray image."

# (region slug, display name, words that identify a paragraph about it), in the model's review order.
REVIEW_REGIONS = [
    (
        "image-quality",
        "Image quality",
        ("image quality", "technique", "projection", "inspiration", "rotation", "penetration", "exposure"),
    ),
    ("devices", "Devices", ("device", "tube", "line", "catheter", "pacemaker", "wire", "drain", "port")),
    ("central-airways", "Central airways", ("trachea", "airway", "carina", "bronch")),
    ("right-lung", "Right lung", ("right lung",)),
    ("left-lung", "Left lung", ("left lung",)),
    ("pleura", "Pleura", ("pleura", "costophrenic", "effusion", "pneumothorax")),
    ("mediastinum", "Mediastinum", ("mediastin",)),
    ("hila", "Hila", ("hila", "hilum", "hilar")),
    ("heart", "Heart", ("heart", "cardiac", "cardiothoracic")),
    ("upper-abdomen", "Upper abdomen", ("abdomen", "subdiaphragmatic", "free air", "bowel")),
    ("bones", "Bones", ("bone", "osseous", "rib", "clavicle", "spine", "skeletal", "fracture")),
    ("overall", "Overall", ("overall", "in summary", "summary", "impression", "in conclusion")),
]
REGION_SLUGS = [slug for slug, _, _ in REVIEW_REGIONS]
OTHER_REGION = "other"
