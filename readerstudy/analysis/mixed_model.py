"""The sensitivity model, for every per-read outcome (time, Jaccard, ratings), fitted by REML:

    y ~ arm + session + previous_arm + (1|reader) + (1|case) + (1|reader:arm) + (1|case:arm)

Readers and cases are random samples, crossed (statsmodels fits crossed effects as variance components within
a single group that holds every read), and each reader and each case may respond to the arms in its own way.
`session` (learning across sessions) and `previous_arm` (carry-over: the arm under which the reader last read
this case) sit beside the arm effects, which the ORH analysis reports first. Coding: one indicator per
non-reference arm; one per session after the first; one per previous arm other than the reference arm
(Unaided, else the study's first arm). A case's first reading has no previous arm: it is 0 on every
previous-arm indicator and its level is absorbed by session 1 (the first session holds exactly those reads).
A term that does not vary in the data (one session, no second reading) is left out. Each effect is a
difference from its reference with a Wald 95% CI and p-value; a carry-over whose CI excludes no effect is
flagged. Anything that cannot be estimated says why: the checks below, or the fit's own failure.
"""

import math
import warnings

import numpy as np
import statsmodels.formula.api as smf
from patsy import PatsyError

from readerstudy.models import Arm

from .dataset import arm_name

Z_95 = 1.959963984540054
MIN_READERS = MIN_CASES = 2


def not_estimable(reason, **extra):
    return {"estimable": False, "reason": reason, **extra}


def fit_sensitivity_model(frame, outcome, arms, reference):
    """Fit the model on the rows of `frame` (columns reader, case, arm, outcome, and session and previous_arm
    where the data has them) in `arms`; JSON-ready."""
    rows = frame[frame["arm"].isin(arms) & frame[outcome].notna()]
    sessions, previous = _sessions(rows), _previous_arms(rows, reference)
    fixed = "arm" + (" + session" if sessions else "") + (" + previous_arm" if previous else "")
    described = {
        "formula": f"{outcome} ~ {fixed} + (1|reader) + (1|case) + (1|reader:arm) + (1|case:arm)",
        "method": "REML",
        "reference": reference,
        "n_reads": len(rows),
        "n_readers": rows["reader"].nunique(),
        "n_cases": rows["case"].nunique(),
    }
    compared = [arm for arm in arms if arm != reference and (rows["arm"] == arm).any()]
    reason = _why_not_estimable(rows, outcome, reference, compared)
    if reason:
        return {**described, **not_estimable(reason)}
    try:
        fitted, caught = _fit(rows, outcome, compared, sessions, previous)
    except (ValueError, np.linalg.LinAlgError, PatsyError) as failure:
        return {**described, **not_estimable(f"the model could not be fitted ({failure})")}
    effects = {name: _effect(fitted, name) for name in fitted.fe_params.index if name != "Intercept"}
    if not all(math.isfinite(effect["se"]) and effect["se"] > 0 for effect in effects.values()):
        return {**described, **not_estimable("the fit is singular: the standard errors are not finite")}
    missing = [
        {"arm": arm, **not_estimable("no reads in this arm")}
        for arm in arms
        if arm != reference and arm not in compared
    ]
    return {
        **described,
        "estimable": True,
        "reason": None,
        "converged": bool(fitted.converged),
        "warnings": caught,
        "intercept": float(fitted.fe_params["Intercept"]),
        "effects": [{"arm": arm, "estimable": True, "reason": None, **effects[f"arm_{arm}"]} for arm in compared]
        + missing,
        "sessions": [{"session": session, **effects[f"session_{session}"]} for session in sessions],
        "carryover": [
            {
                "previous_arm": arm,
                **effects[f"previous_{arm}"],
                "excludes_no_effect": not effects[f"previous_{arm}"]["ci_low"]
                <= 0
                <= effects[f"previous_{arm}"]["ci_high"],
            }
            for arm in previous
        ],
        "variances": {
            name: float(fitted.vcomp[fitted.model.exog_vc.names.index(name)]) for name in fitted.model.exog_vc.names
        }
        | {"residual": float(fitted.scale)},
    }


def _sessions(rows):
    """The sessions after the first one that hold reads (none if the data has no session column)."""
    if "session" not in rows:
        return []
    return sorted(int(session) for session in rows["session"].unique())[1:]


def _previous_arms(rows, reference):
    if "previous_arm" not in rows:
        return []
    present = set(rows["previous_arm"])
    return [arm for arm in Arm.values if arm in present and arm != reference]


def _why_not_estimable(rows, outcome, reference, compared):
    if not (rows["arm"] == reference).any():
        return f"no reads in the reference arm ({arm_name(reference)})"
    if not compared:
        return f"no other arm has reads to compare with {arm_name(reference)}"
    readers, cases = rows["reader"].nunique(), rows["case"].nunique()
    if readers < MIN_READERS:
        return f"needs reads from at least {MIN_READERS} readers (has {readers})"
    if cases < MIN_CASES:
        return f"needs reads of at least {MIN_CASES} cases (has {cases})"
    if rows[outcome].nunique() < 2:
        return "the outcome is the same in every read"
    return None


def _fit(rows, outcome, compared, sessions, previous):
    """The outcome as `y` (a rating key may hold a hyphen, which a formula cannot), and one indicator column per
    term level, which keeps the parameter names plain (`arm_LABELS_ONLY`, `session_2`, `previous_UNAIDED`)."""
    data = rows[["reader", "case"]].copy()
    data["y"] = rows[outcome]
    data["everyone"] = 1
    data["reader_arm"] = rows["reader"].astype(str) + "|" + rows["arm"]
    data["case_arm"] = rows["case"].astype(str) + "|" + rows["arm"]
    terms = {f"arm_{arm}": rows["arm"] == arm for arm in compared}
    terms |= {f"session_{session}": rows["session"] == session for session in sessions}
    terms |= {f"previous_{arm}": rows["previous_arm"] == arm for arm in previous}
    for name, indicator in terms.items():
        data[name] = indicator.astype(float)
    model = smf.mixedlm(
        "y ~ " + " + ".join(terms),
        data,
        groups="everyone",
        re_formula="0",
        vc_formula={
            "reader": "0 + C(reader)",
            "case": "0 + C(case)",
            "reader_arm": "0 + C(reader_arm)",
            "case_arm": "0 + C(case_arm)",
        },
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Powell first: when a variance is truly zero (ratings without reader effects) the default BFGS stops
        # far from the boundary optimum with made-up variances; on interior optima both agree.
        fitted = model.fit(reml=True, method=["powell", "lbfgs"])
    return fitted, sorted({str(warning.message) for warning in caught})


def _effect(fitted, name):
    estimate, se = float(fitted.fe_params[name]), float(fitted.bse_fe[name])
    return {
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - Z_95 * se,
        "ci_high": estimate + Z_95 * se,
        "p": float(fitted.pvalues[name]),
    }


def with_ratios(model):
    """Effects on log time as ratios of geometric mean times (exp of the estimate and of its CI)."""
    if not model["estimable"]:
        return model
    return {
        **model,
        **{part: [_ratio(effect) for effect in model[part]] for part in ("effects", "sessions", "carryover")},
    }


def _ratio(effect):
    if not effect.get("estimable", True):
        return effect
    return {
        **effect,
        "ratio": math.exp(effect["estimate"]),
        "ratio_ci_low": math.exp(effect["ci_low"]),
        "ratio_ci_high": math.exp(effect["ci_high"]),
    }


def reference_arm(arms):
    """UNAIDED, the paper's manual baseline; a study without it compares with its first arm."""
    return Arm.UNAIDED.value if Arm.UNAIDED in arms else arms[0]
