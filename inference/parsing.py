"""Parsing NV-Reason-CXR-3B's output: `<think> paragraphs </think> <answer> Label, Label </answer>`.

The raw text is never changed. Offsets are Python string indices, i.e. Unicode code points into the raw
text of the turn, which is what the browser gets when it counts characters with Array.from().
"""

import re
from dataclasses import dataclass, field

from readerstudy.labels import CHEXPERT_LABELS

from .trace_format import OTHER_REGION, REFUSAL_TEXT, REVIEW_REGIONS

TAG = re.compile(r"<\s*(/?)\s*(think|answer)\s*>", re.IGNORECASE)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
ANSWER_SEPARATORS = re.compile(r"[,;\n]")

# Answer items the model (or a near-miss of it) writes for a label, lower-case; names and slugs match too.
SYNONYMS = {
    "effusion": "pleural-effusion", "pleural effusions": "pleural-effusion", "effusions": "pleural-effusion",
    "enlarged heart": "cardiomegaly", "cardiac enlargement": "cardiomegaly",
    "nodule": "lung-lesion", "lung nodule": "lung-lesion", "pulmonary nodule": "lung-lesion", "mass": "lung-lesion",
    "lung mass": "lung-lesion", "opacity": "lung-opacity", "airspace opacity": "lung-opacity",
    "lung opacities": "lung-opacity", "tube": "support-devices", "line": "support-devices",
    "catheter": "support-devices", "support device": "support-devices", "devices": "support-devices",
    "normal": "no-finding", "no findings": "no-finding", "no acute findings": "no-finding",
    "no abnormality": "no-finding", "ptx": "pneumothorax", "fractures": "fracture", "rib fracture": "fracture",
    "pulmonary edema": "edema", "oedema": "edema", "widened mediastinum": "enlarged-cardiomediastinum",
    "pleural thickening": "pleural-other", "atelectases": "atelectasis", "consolidations": "consolidation",
}


@dataclass
class Step:
    index: int
    start: int
    end: int
    text: str
    region: str


@dataclass
class ParsedOutput:
    status: str  # "ok" | "truncated" | "refused" | "malformed"
    steps: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    unknown_labels: list = field(default_factory=list)
    reasoning_start: int | None = None
    reasoning_end: int | None = None
    answer_start: int | None = None
    answer_end: int | None = None


def parse_output(raw_text: str, vocabulary=CHEXPERT_LABELS) -> ParsedOutput:
    tags = _tags(raw_text)
    think, answer = _span(tags, "think"), _span(tags, "answer")
    if think is None and answer is None:
        return ParsedOutput(status="refused" if _is_refusal(raw_text) else "malformed")
    parsed = ParsedOutput(status=_status(raw_text, think, answer))
    if think is not None:
        parsed.reasoning_start, parsed.reasoning_end = think
        parsed.steps = split_steps(raw_text, *think)
    if answer is not None and answer[1] is not None:
        parsed.answer_start, parsed.answer_end = answer
        parsed.labels, parsed.unknown_labels = map_labels(raw_text[answer[0]:answer[1]], vocabulary)
    return parsed


def _tags(raw_text):
    return [(m.group(2).lower(), bool(m.group(1)), m.start(), m.end()) for m in TAG.finditer(raw_text)]


def _span(tags, name):
    """(content start, content end) of the first `name` element; end None when it was never closed."""
    opened = next((t for t in tags if t[0] == name and not t[1]), None)
    if opened is None:
        return None
    closed = next((t for t in tags if t[0] == name and t[1] and t[2] >= opened[3]), None)
    return opened[3], closed[2] if closed else None


def _status(raw_text, think, answer):
    if think is not None and think[1] is None:
        return "truncated"  # stopped inside the reasoning: the token limit
    if answer is None:
        # The reasoning closed but no answer followed: the limit fell between the two.
        return "truncated"
    if answer[1] is None:
        return "truncated"
    return "ok"


def _is_refusal(raw_text):
    words = lambda text: re.sub(r"[^a-z ]", "", text.lower()).split()  # noqa: E731
    return " ".join(words(REFUSAL_TEXT)) in " ".join(words(raw_text))


def split_steps(raw_text, start, end):
    """Paragraphs (blank-line separated) of the reasoning, trimmed, with exact offsets and a region each."""
    end = len(raw_text) if end is None else end
    body = raw_text[start:end]
    chunks = PARAGRAPH_BREAK.split(body)
    if len(chunks) == 1:
        chunks = body.split("\n")  # a model that wrote one paragraph per line
    steps, cursor, previous = [], 0, None
    for chunk in chunks:
        offset = body.index(chunk, cursor)
        cursor = offset + len(chunk)
        text = chunk.strip()
        if not text:
            continue
        chunk_start = start + offset + (len(chunk) - len(chunk.lstrip()))
        region = region_of(text, previous)
        steps.append(Step(len(steps), chunk_start, chunk_start + len(text), text, region))
        previous = region
    return steps


def region_of(text, previous=None):
    """The review region a paragraph is about: the one it names first; ties go to the region that follows
    the previous step, since the model reviews in a fixed order."""
    lowered = text.lower()
    first_mention = {}
    for slug, name, keywords in REVIEW_REGIONS:
        found = [match.start() for keyword in (name.lower(), *keywords)
                 if (match := re.search(r"\b" + re.escape(keyword), lowered))]
        if found:
            first_mention[slug] = min(found)
    if not first_mention:
        return OTHER_REGION
    order = [slug for slug, _, _ in REVIEW_REGIONS]
    after = order.index(previous) if previous in order else -1
    return min(first_mention, key=lambda slug: (first_mention[slug], order.index(slug) < after, order.index(slug)))


def map_labels(answer_text, vocabulary=CHEXPERT_LABELS):
    """Answer items -> (label slugs in answer order without repeats, unknown items verbatim)."""
    lookup = {**SYNONYMS}
    for slug, name in vocabulary:
        lookup[slug] = slug
        lookup[name.lower()] = slug
        lookup[slug.replace("-", " ")] = slug
    labels, unknown = [], []
    for item in ANSWER_SEPARATORS.split(answer_text):
        cleaned = item.strip().rstrip(".").strip()
        if not cleaned:
            continue
        slug = lookup.get(re.sub(r"\s+", " ", cleaned.lower()))
        if slug is None:
            unknown.append(cleaned)
        elif slug not in labels:
            labels.append(slug)
    return labels, unknown
