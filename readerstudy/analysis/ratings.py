"""Rating questions (confidence, usefulness, trust, …): per arm mean, SD and distribution, and the arm effect
on the score, with the first arm that asks the question as the reference. Answers of N/A (a question that
allows it, not applying to the case) are no score: left out of every figure, and counted per arm
(`not_applicable`). The probability of abnormality is not a rating of the read but a diagnostic score: the
accuracy section analyses it as an AUC."""

from readerstudy.models import ABNORMALITY_KEY

from .dataset import CASE_TYPES, not_applicable_column, rating_column
from .mixed_model import fit_sensitivity_model, not_estimable


def ratings_section(data):
    return [_question(data, question) for question in data.questions if question.key != ABNORMALITY_KEY]


def _question(data, question):
    column, not_applicable = rating_column(question.key), not_applicable_column(question.key)
    asked = [arm for arm in data.arms if arm in question.arms]
    scale = list(range(question.scale_min, question.scale_max + 1))
    model = (
        fit_sensitivity_model(data.reads, column, asked, asked[0])
        if len(asked) > 1
        else not_estimable("asked in one arm only, so there is no arm to compare")
    )
    return {
        "key": question.key,
        "text": question.text,
        "scale": scale,
        "anchors": [question.min_anchor, question.max_anchor],
        "arms": asked,
        "allows_not_applicable": question.allows_not_applicable,
        "per_arm": _scores(data.reads, column, not_applicable, asked, scale),
        "by_case_type": {
            case_type: _scores(data.reads[data.reads["case_type"] == case_type], column, not_applicable, asked, scale)
            for case_type in CASE_TYPES
        },
        "model": model,
    }


def _scores(frame, column, not_applicable, arms, scale):
    return [_arm_scores(frame, column, not_applicable, arm, scale) for arm in arms]


def _arm_scores(frame, column, not_applicable, arm, scale):
    in_arm = frame[frame["arm"] == arm]
    values = in_arm[column].dropna()
    counts = values.astype(int).value_counts()
    return {
        "arm": arm,
        "n": int(values.size),
        "not_applicable": int(in_arm[not_applicable].sum()),
        "mean": float(values.mean()) if values.size else None,
        "sd": float(values.std(ddof=1)) if values.size > 1 else None,
        # A list, not a dict: PostgreSQL's jsonb does not keep a dict's key order (-1 would follow 2).
        "distribution": [{"score": score, "count": int(counts.get(score, 0))} for score in scale],
    }
