"""The paper's model for every per-read outcome: outcome ~ arm + (1|reader) + (1|case), fitted by REML.

Readers and cases are both random samples, so both get a random intercept. They are crossed, not nested:
statsmodels fits crossed effects as variance components within a single group that holds every read.
Each arm's effect is its difference from the reference arm, with a Wald 95% confidence interval and p-value.
Anything that cannot be estimated says why: the checks below, or the fit's own failure.
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


def fit_arm_effects(frame, outcome, arms, reference):
    """Fit the model on the rows of `frame` (columns reader, case, arm, outcome) in `arms`; JSON-ready."""
    rows = frame[frame["arm"].isin(arms) & frame[outcome].notna()]
    described = {"formula": f"{outcome} ~ arm + (1|reader) + (1|case)", "method": "REML",
                 "reference": reference, "n_reads": len(rows), "n_readers": rows["reader"].nunique(),
                 "n_cases": rows["case"].nunique()}
    compared = [arm for arm in arms if arm != reference and (rows["arm"] == arm).any()]
    reason = _why_not_estimable(rows, outcome, reference, compared)
    if reason:
        return {**described, **not_estimable(reason)}
    try:
        fitted, caught = _fit(rows, outcome, compared)
    except (ValueError, np.linalg.LinAlgError, PatsyError) as failure:
        return {**described, **not_estimable(f"the model could not be fitted ({failure})")}
    effects = [_effect(fitted, arm) for arm in compared]
    if not all(math.isfinite(effect["se"]) and effect["se"] > 0 for effect in effects):
        return {**described, **not_estimable("the fit is singular: the standard errors are not finite")}
    missing = [{"arm": arm, **not_estimable("no reads in this arm")} for arm in arms
               if arm != reference and arm not in compared]
    return {**described, "estimable": True, "reason": None, "converged": bool(fitted.converged),
            "warnings": caught, "intercept": float(fitted.fe_params["Intercept"]),
            "effects": [{"arm": arm, "estimable": True, "reason": None, **effect}
                        for arm, effect in zip(compared, effects)] + missing,
            "variances": {"reader": float(fitted.vcomp[fitted.model.exog_vc.names.index("reader")]),
                          "case": float(fitted.vcomp[fitted.model.exog_vc.names.index("case")]),
                          "residual": float(fitted.scale)}}


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


def _fit(rows, outcome, compared):
    """The outcome as `y` (a rating key may hold a hyphen, which a formula cannot), and one indicator column per
    compared arm, which keeps the parameter names plain (`arm_LABELS_ONLY`)."""
    data = rows[["reader", "case"]].copy()
    data["y"] = rows[outcome]
    data["everyone"] = 1
    for arm in compared:
        data[f"arm_{arm}"] = (rows["arm"] == arm).astype(float)
    model = smf.mixedlm("y ~ " + " + ".join(f"arm_{arm}" for arm in compared), data,
                        groups="everyone", re_formula="0",
                        vc_formula={"reader": "0 + C(reader)", "case": "0 + C(case)"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Powell first: when a variance is truly zero (ratings without reader effects) the default BFGS stops
        # far from the boundary optimum with made-up variances; on interior optima both agree.
        fitted = model.fit(reml=True, method=["powell", "lbfgs"])
    return fitted, sorted({str(warning.message) for warning in caught})


def _effect(fitted, arm):
    name = f"arm_{arm}"
    estimate, se = float(fitted.fe_params[name]), float(fitted.bse_fe[name])
    return {"estimate": estimate, "se": se, "ci_low": estimate - Z_95 * se, "ci_high": estimate + Z_95 * se,
            "p": float(fitted.pvalues[name])}


def with_ratios(model):
    """Effects on log time as ratios of geometric mean times (exp of the estimate and of its CI)."""
    if not model["estimable"]:
        return model
    return {**model, "effects": [
        {**effect, **({"ratio": math.exp(effect["estimate"]), "ratio_ci_low": math.exp(effect["ci_low"]),
                       "ratio_ci_high": math.exp(effect["ci_high"])} if effect["estimable"] else {})}
        for effect in model["effects"]]}


def reference_arm(arms):
    """UNAIDED, the paper's manual baseline; a study without it compares with its first arm."""
    return Arm.UNAIDED.value if Arm.UNAIDED in arms else arms[0]
