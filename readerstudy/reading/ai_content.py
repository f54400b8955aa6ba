"""What of the pinned AI output a reader may receive, by arm (ARCHITECTURE.md: blinding is enforced here).

UNAIDED gets nothing; LABELS_ONLY the answer's labels; FULL_REASONING the reasoning steps with their
regions, the labels and the structured-report turn. Never provenance, prompts, timings, token counts or the
simulated engine's record of its deliberate errors: only the fields built below leave the server.
"""

from inference.models import StudyOutputPin
from inference.trace_format import OTHER_REGION, REVIEW_REGIONS
from readerstudy.models import Arm, Label

REGION_NAMES = {slug: name for slug, name, _ in REVIEW_REGIONS} | {OTHER_REGION: "Other"}
REASONING_TURN = 0


def pinned_output(assignment):
    pin = StudyOutputPin.objects.select_related("output").filter(study=assignment.study, case=assignment.case).first()
    return pin.output if pin else None


def ai_content(assignment):
    """The AI content the assignment's arm allows, or None for UNAIDED (or a case without a pinned output)."""
    output = None if assignment.arm == Arm.UNAIDED else pinned_output(assignment)
    if output is None:
        return None
    content = {"labels": labels_shown(assignment.arm, output, vocabulary_names(assignment.study))}
    if assignment.arm == Arm.FULL_REASONING:
        content["reasoning"] = _reasoning(output)
        content["report"] = _report(output)
    return content


def labels_shown(arm, output, names):
    """The AI labels a reading under `arm` shows, [{slug, name}] in the answer's order and named in the study's
    vocabulary (`names`: slug -> name); answer labels outside it are not shown. None: this reading shows no AI
    (an unaided arm, or no pinned output)."""
    if arm == Arm.UNAIDED or output is None:
        return None
    return [{"slug": slug, "name": names[slug]} for slug in output.labels if slug in names]


def vocabulary_names(study):
    return dict(Label.objects.filter(vocabulary=study.label_vocabulary).values_list("slug", "name"))


def _reasoning(output):
    """The reasoning turn's raw text and its steps; offsets are code points into that text."""
    steps = [
        {
            "index": i,
            "start": s["start"],
            "end": s["end"],
            "region": s["region"],
            "region_name": REGION_NAMES.get(s["region"], "Other"),
        }
        for i, s in enumerate(output.steps)
        if s.get("turn", REASONING_TURN) == REASONING_TURN
    ]
    return {"turn": REASONING_TURN, "text": output.turns[REASONING_TURN]["text"], "steps": steps}


def _report(output):
    index = output.report_turn
    if index is None or not output.turn_succeeded(index):
        return None
    return {"turn": index, "text": output.turns[index]["text"]}


def annotatable_text(assignment, turn):
    """The raw text of `turn` if the reader was shown it, else None (annotations may only quote what was shown)."""
    content = ai_content(assignment)
    if not content or "reasoning" not in content:
        return None
    shown = [content["reasoning"]] + ([content["report"]] if content["report"] else [])
    return next((part["text"] for part in shown if part["turn"] == turn), None)
