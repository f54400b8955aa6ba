"""Parsing NV-Reason-CXR-3B's output: `<think> paragraphs </think> <answer> Label, Label </answer>`.

The raw text is only read, never changed. Every offset is a Python string index, i.e. a Unicode code point
into the raw text (not a UTF-8 byte, not a UTF-16 unit), so `raw_text[start:end]` is always the step or the
answer; a browser counts the same way with Array.from(text).

Statuses (tags in any case; text before, between and after them is allowed):
- "ok": a closed <answer>, after the closed reasoning if there is one (an answer alone is ok, with no steps).
- "truncated": the token limit cut the text: <think> or <answer> opened and never closed, or nothing but
  whitespace or a cut-off tag ("<ans") after </think>. Only a closed answer gives labels.
- "refused": the refusal sentence, in any case, spacing or punctuation, and no answer of labels (an <answer>
  holding the refusal sentence is a refusal too).
- "malformed": no tags and no refusal, or text after </think> without <answer>: finished, not in format.
A <think> never closed but followed by a closed <answer> ends at the <answer> (the model finished: ok). A
</think> with no <think> starts the reasoning at 0 (some chat templates put <think> in the prompt).
"""

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from readerstudy.core.labels import CHEXPERT_LABELS

from .trace_format import OTHER_REGION, REFUSAL_TEXT, REVIEW_REGIONS

OK, TRUNCATED, REFUSED, MALFORMED = "ok", "truncated", "refused", "malformed"

TAG = re.compile(r"<\s*(/?)\s*(think|answer)\s*>", re.IGNORECASE)
# What the token limit leaves of a tag at the very end of the text: "<", "</thi", "<ans".
CUT_TAG = re.compile(r"<\s*/?\s*([a-z]*)\s*\Z", re.IGNORECASE)

# Steps are blank-line separated paragraphs; a model that used single newlines gets one step per line; a
# single block of prose gets one step per sentence (a sentence ends at . ! ? before a capital, so "0.6" and
# "≥ 0.5 cm" do not split it).
STEP_SEPARATORS = (re.compile(r"\n[^\S\n]*\n\s*"), re.compile(r"\n\s*"), re.compile(r"(?<=[.!?])\s+(?=[A-Z])"))

# A "Right lung:" style heading, and the opening words of a paragraph: where the subject of a paragraph is.
HEADING = re.compile(r"[^.:;\n]{1,40}:")
OPENING_WORDS = re.compile(r"(?:\W*\w+){1,6}")
# Lobe and zone names say which lung a paragraph is about as clearly as "right lung" does.
LUNG_PARTS = {
    f"{side}-lung": tuple(
        f"{side} {part} {unit}" for part in ("upper", "middle", "mid", "lower") for unit in ("lobe", "zone", "lung")
    )
    for side in ("right", "left")
}
LUNG_PARTS["left-lung"] += ("lingula",)
# A keyword counts where it starts a word: "rib" in "ribs", not in "describe".
REGION_PATTERNS = [
    (slug, re.compile(r"\b(?:" + "|".join(map(re.escape, (name.lower(), *keywords, *LUNG_PARTS.get(slug, ())))) + ")"))
    for slug, name, keywords in REVIEW_REGIONS
]
# Words that start with a region keyword but are about something else: a portable film has no port.
FALSE_FRIENDS = ("portable", "portion", "portal", "linear", "tubercul", "ribbon", "bronchogram")

# Answer items a model (or a near miss) writes for a label, by slug; label names and slugs match as well,
# and so do their plurals.
SYNONYMS = {
    "pleural-effusion": ("effusion",),
    "cardiomegaly": ("enlarged heart", "cardiac enlargement", "enlarged cardiac silhouette"),
    "lung-lesion": ("nodule", "lung nodule", "pulmonary nodule", "mass", "lung mass", "lesion"),
    "lung-opacity": ("opacity", "airspace opacity", "air space opacity", "pulmonary opacity"),
    "support-devices": ("tube", "line", "catheter", "device", "lines and tubes"),
    "no-finding": (
        "normal",
        "no findings",
        "no acute findings",
        "no abnormality",
        "no acute cardiopulmonary abnormality",
    ),
    "pneumothorax": ("ptx",),
    "fracture": ("rib fracture",),
    "edema": ("pulmonary edema", "oedema", "pulmonary oedema"),
    "enlarged-cardiomediastinum": ("widened mediastinum", "mediastinal widening"),
    "pleural-other": ("pleural thickening",),
}
ANSWER_SEPARATOR = re.compile(r"[,;\n]")


@dataclass(frozen=True)
class Step:
    index: int
    start: int  # code point offsets into the raw text: raw_text[start:end] == text
    end: int
    text: str
    region: str  # a REVIEW_REGIONS slug, or OTHER_REGION


@dataclass
class ParsedOutput:
    status: str  # OK | TRUNCATED | REFUSED | MALFORMED
    reasoning: str = ""
    reasoning_start: int | None = None
    reasoning_end: int | None = None
    steps: list[Step] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # vocabulary slugs in answer order, no repeats
    unknown_labels: list[str] = field(default_factory=list)  # answer items that name no label, as written
    answer_start: int | None = None
    answer_end: int | None = None


class Tag(NamedTuple):
    name: str  # "think" | "answer"
    closing: bool
    start: int
    end: int


class Span(NamedTuple):
    """Content of a <think> or <answer> element; complete is False when the text stops inside it."""

    start: int
    end: int
    complete: bool


def parse_output(raw_text: str, vocabulary=CHEXPERT_LABELS) -> ParsedOutput:
    tags = [Tag(m.group(2).lower(), bool(m.group(1)), m.start(), m.end()) for m in TAG.finditer(raw_text)]
    reasoning = _reasoning_span(raw_text, tags)
    answer = _answer_span(raw_text, tags, after=reasoning.end if reasoning else 0)
    parsed = ParsedOutput(status=_status(raw_text, reasoning, answer))
    if reasoning:
        parsed.reasoning = raw_text[reasoning.start : reasoning.end]
        parsed.reasoning_start, parsed.reasoning_end = reasoning.start, reasoning.end
        parsed.steps = split_steps(raw_text, reasoning.start, reasoning.end)
    if answer:
        parsed.answer_start, parsed.answer_end = answer.start, answer.end
    if parsed.status == OK:
        parsed.labels, parsed.unknown_labels = map_labels(raw_text[answer.start : answer.end], vocabulary)
    return parsed


def _reasoning_span(raw_text, tags):
    opened = _first(tags, "think", closing=False)
    if opened is None:
        closed = _first(tags, "think", closing=True)
        return Span(0, closed.start, True) if closed else None
    closed = _first(tags, "think", closing=True, after=opened.end)
    if closed:
        return Span(opened.end, closed.start, True)
    answer = _first(tags, "answer", closing=False, after=opened.end)
    if answer and _first(tags, "answer", closing=True, after=answer.end):
        return Span(opened.end, answer.start, True)  # </think> forgotten, but the model went on to answer
    return Span(opened.end, _cut_end(raw_text), False)


def _answer_span(raw_text, tags, after):
    opened = _first(tags, "answer", closing=False, after=after)
    if opened is None:
        return None
    closed = _first(tags, "answer", closing=True, after=opened.end)
    return Span(opened.end, closed.start, True) if closed else Span(opened.end, _cut_end(raw_text), False)


def _first(tags, name, closing, after=0):
    return next((tag for tag in tags if (tag.name, tag.closing) == (name, closing) and tag.start >= after), None)


def _cut_end(text):
    """End of the text without a tag the token limit cut short, so no step ends in "</thi"."""
    match = CUT_TAG.search(text)
    if match and any(name.startswith(match.group(1).lower()) for name in ("think", "answer")):
        return match.start()
    return len(text)


def _status(raw_text, reasoning, answer):
    if answer and answer.complete:
        return REFUSED if _is_refusal(raw_text[answer.start : answer.end]) else OK
    if _is_refusal(raw_text):
        return REFUSED
    if reasoning is None and answer is None:
        return MALFORMED
    if answer or not reasoning.complete:
        return TRUNCATED
    rest = TAG.sub("", raw_text[reasoning.end :])
    return TRUNCATED if not rest[: _cut_end(rest)].strip() else MALFORMED


def _is_refusal(text):
    # Letters and digits only: "x-ray"/"X ray"/"xray", spacing and final punctuation all compare equal.
    return _letters(REFUSAL_TEXT) in _letters(text)


def _letters(text):
    return re.sub(r"[^a-z0-9]", "", text.lower())


def split_steps(raw_text: str, start: int, end: int) -> list[Step]:
    """The reasoning raw_text[start:end] as steps, trimmed, with exact offsets and a review region each."""
    steps, previous = [], None
    for step_start, step_end in _step_spans(raw_text, start, end):
        text = raw_text[step_start:step_end]
        region = region_of(text, previous)
        steps.append(Step(len(steps), step_start, step_end, text, region))
        previous = region if region != OTHER_REGION else previous
    return steps


def _step_spans(raw_text, start, end):
    for separator in STEP_SEPARATORS:
        spans = _split(raw_text, start, end, separator)
        if len(spans) > 1:
            return spans
    return spans


def _split(raw_text, start, end, separator):
    """Non-blank pieces of raw_text[start:end] between separators, as trimmed (start, end) offsets."""
    pieces, cursor = [], start
    for match in separator.finditer(raw_text, start, end):
        pieces.append((cursor, match.start()))
        cursor = match.end()
    pieces.append((cursor, end))
    return [_trim(raw_text, a, b) for a, b in pieces if raw_text[a:b].strip()]


def _trim(raw_text, start, end):
    piece = raw_text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())


def region_of(text: str, previous: str | None = None) -> str:
    """The review region a step is about. A keyword in a heading ("Right lung:") outweighs one in the
    opening six words, which outweighs one further on. Between equals, regions at or after the previous
    step's region win, as the model reviews in a fixed order; then the one named first; then review order."""
    lowered = text.lower()
    heading = HEADING.match(lowered)
    heading_end = heading.end() if heading else 0
    opening = OPENING_WORDS.match(lowered)
    opening_end = opening.end() if opening else 0
    previous_order = next((i for i, (slug, _) in enumerate(REGION_PATTERNS) if slug == previous), 0)
    best, best_key = OTHER_REGION, None
    for order, (slug, pattern) in enumerate(REGION_PATTERNS):
        mentions = [m.start() for m in pattern.finditer(lowered) if not lowered.startswith(FALSE_FRIENDS, m.start())]
        if not mentions:
            continue
        weight = 3 if mentions[0] < heading_end else 2 if mentions[0] < opening_end else 1
        key = (weight, order >= previous_order, -mentions[0], -order)
        if best_key is None or key > best_key:
            best, best_key = slug, key
    return best


def map_labels(answer_text: str, vocabulary=CHEXPERT_LABELS) -> tuple[list[str], list[str]]:
    """Answer items -> (label slugs in answer order without repeats, items that name no label)."""
    lookup = _label_lookup(vocabulary)
    labels, unknown = [], []
    for item in ANSWER_SEPARATOR.split(answer_text):
        written = item.strip().lstrip("-*•").strip().rstrip(".").strip()
        if not written:
            continue
        slug = _lookup(lookup, _key(written))
        if slug is None and written not in unknown:
            unknown.append(written)
        elif slug is not None and slug not in labels:
            labels.append(slug)
    return labels, unknown


def _label_lookup(vocabulary):
    slugs = {slug for slug, _ in vocabulary}
    lookup = {_key(synonym): slug for slug, synonyms in SYNONYMS.items() if slug in slugs for synonym in synonyms}
    for slug, name in vocabulary:
        lookup[_key(slug)] = lookup[_key(name)] = slug  # the vocabulary's own words win over synonyms
    return lookup


def _key(text):
    return " ".join(re.sub(r"[-_]", " ", text.lower()).split())


def _lookup(lookup, key):
    """The slug for an item, also when it is the plural or singular of a known one ("effusions", "device")."""
    candidates = [
        key,
        key + "s",
        key[:-1] if key.endswith("s") else None,
        key[:-3] + "y" if key.endswith("ies") else None,
    ]
    return next((lookup[c] for c in candidates if c in lookup), None)
