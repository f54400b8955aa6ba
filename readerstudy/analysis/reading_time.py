"""The primary endpoint: active reading time per arm, and the arm effect as a ratio of geometric means."""

from .dataset import CASE_TYPES
from .mixed_model import fit_sensitivity_model, reference_arm, with_ratios


def time_section(data):
    reference = reference_arm(data.arms)
    section = _summary(data.reads, data.arms, reference)
    section["by_case_type"] = {
        case_type: _summary(data.reads[data.reads["case_type"] == case_type], data.arms, reference)
        for case_type in CASE_TYPES
    }
    return section


def _summary(frame, arms, reference):
    return {
        "per_arm": [arm_times(frame, arm) for arm in arms],
        "model": with_ratios(fit_sensitivity_model(frame, "log_active_s", arms, reference)),
    }


def arm_times(frame, arm):
    """n, median and quartiles of active seconds (computed on integer milliseconds, as exported)."""
    ms = frame.loc[frame["arm"] == arm, "active_ms"]
    if ms.empty:
        return {"arm": arm, "n": 0, "median_s": None, "q1_s": None, "q3_s": None}
    return {
        "arm": arm,
        "n": int(ms.size),
        "median_s": float(ms.median()) / 1000,
        "q1_s": float(ms.quantile(0.25)) / 1000,
        "q3_s": float(ms.quantile(0.75)) / 1000,
    }
