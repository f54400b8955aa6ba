"""Obuchowski–Rockette analysis with Hillis's degrees of freedom (ORH): the field's standard for reader studies
(OR-DBM MRMC, RJafroc, MRMCaov), for any figure of merit. Pure numpy and scipy.

Readers and cases are both random samples. The input is a table of per-case values, arm × reader × case, with
NaN where a reader has no analysed read of a case under an arm, and a figure of merit (FOM) that turns one
cell's values (with the cases' truth) into a number: a mean, a difference of means, the trapezoidal AUC.

- θ_ij is the FOM of arm i and reader j; the error covariances come from the case jackknife: θ_ij(k) leaves
  case k out (a cell without case k keeps θ_ij), and Cov(θ_ij, θ_i'j') = (c − 1)/c Σ_k (θ_ij(k) − θ̄_ij(·))
  (θ_i'j'(k) − θ̄_i'j'(·)) over the c cases of the table.
- Var is the mean of the variances; Cov1 the mean covariance of the same reader in two arms, Cov2 of two
  readers in the same arm, Cov3 of two readers in two arms (Obuchowski & Rockette 1995).
- MS(T), MS(R), MS(T×R) are the usual two-way mean squares of θ. The error term of all arms is
  MS(T×R) + J·max(Cov2 − Cov3, 0); F = MS(T) / that, on t − 1 and Hillis's (2007) denominator df
  (error term)² / (MS(T×R)² / ((t − 1)(J − 1))).
- Each pair of arms: the difference of reader-averaged FOMs with SE √(2/J · error term), t on the same df.
- Each arm alone: SE √(MS(R)_i / J + max(Cov2_i, 0)) on (MS(R)_i + J·max(Cov2_i, 0))² / (MS(R)_i² / (J − 1))
  df (Hillis 2007, single test).
- OR variance components: Var(T×R) = MS(T×R) − Var + Cov1 + Cov2 − Cov3, Var(R) = (MS(R) − Var(T×R) − Var −
  (t − 1)·Cov1 + Cov2 + (t − 1)·Cov3) / t. They, with the covariances, size the next study.
- Fixed readers (a secondary line: conclusions about these readers only): error term Var − Cov1 +
  (J − 1)(Cov2 − Cov3), X² = (t − 1)·MS(T) / that on t − 1 df, pairs as z tests, each arm with SE
  √((Var_i + (J − 1)·Cov2_i) / J).

Checked against the published OR-DBM MRMC 2.5 output on the Van Dyke data (tests/test_orh.py).
"""

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


class NotEstimable(ValueError):
    """The table cannot give this analysis; the message says why."""


@dataclass(frozen=True)
class Table:
    values: np.ndarray  # arm × reader × case, NaN where there is no analysed read
    truth: np.ndarray  # per case: 1 abnormal, 0 normal (the FOMs that need it)
    arms: tuple
    readers: tuple
    cases: tuple


def mean_fom(values, truth):
    return float(values.mean()) if len(values) else math.nan


def difference_fom(values, truth):
    """Mean on abnormal cases minus mean on normal cases: an arm × case-type interaction is an arm effect on it."""
    abnormal, normal = values[truth == 1], values[truth == 0]
    if not len(abnormal) or not len(normal):
        return math.nan
    return float(abnormal.mean() - normal.mean())


def auc_fom(values, truth):
    """Trapezoidal (Wilcoxon) AUC: the chance an abnormal case is rated above a normal one, ties counting half."""
    abnormal, normal = values[truth == 1], values[truth == 0]
    if not len(abnormal) or not len(normal):
        return math.nan
    above = (abnormal[:, None] > normal[None, :]).sum() + 0.5 * (abnormal[:, None] == normal[None, :]).sum()
    return float(above / (len(abnormal) * len(normal)))


def foms_and_jackknife(table, fom):
    """θ (arm × reader) and the jackknife θ(k) (arm × reader × case)."""
    t, readers, cases = table.values.shape
    theta = np.empty((t, readers))
    jackknife = np.empty((t, readers, cases))
    for i in range(t):
        for j in range(readers):
            present = ~np.isnan(table.values[i, j])
            values, truth = table.values[i, j, present], table.truth[present]
            theta[i, j] = fom(values, truth)
            jackknife[i, j] = theta[i, j]
            if fom is mean_fom:  # the same numbers in closed form: each case out of the sum
                jackknife[i, j, present] = (values.sum() - values) / (len(values) - 1) if len(values) > 1 else math.nan
                continue
            keep = np.ones(len(values), dtype=bool)
            for position, k in enumerate(np.flatnonzero(present)):
                keep[position] = False
                jackknife[i, j, k] = fom(values[keep], truth[keep])
                keep[position] = True
    if np.isnan(theta).any() or np.isnan(jackknife).any():
        raise NotEstimable("the figure of merit cannot be computed for every reader and arm with each case left out")
    return theta, jackknife


def jackknife_covariance(jackknife):
    """(t·J) × (t·J) covariance of θ, index i·J + j."""
    t, readers, cases = jackknife.shape
    flat = jackknife.reshape(t * readers, cases)
    centred = flat - flat.mean(axis=1, keepdims=True)
    return (cases - 1) / cases * centred @ centred.T


def error_covariances(covariance, t, readers):
    """Var, Cov1 (same reader, two arms), Cov2 (two readers, same arm), Cov3 (two readers, two arms)."""
    same_arm = np.equal.outer(np.repeat(np.arange(t), readers), np.repeat(np.arange(t), readers))
    same_reader = np.equal.outer(np.tile(np.arange(readers), t), np.tile(np.arange(readers), t))

    def mean_over(mask):
        return float(covariance[mask].mean()) if mask.any() else 0.0

    return (
        mean_over(same_arm & same_reader),
        mean_over(~same_arm & same_reader),
        mean_over(same_arm & ~same_reader),
        mean_over(~same_arm & ~same_reader),
    )


def mean_squares(theta):
    t, readers = theta.shape
    grand = theta.mean()
    by_arm, by_reader = theta.mean(axis=1), theta.mean(axis=0)
    ms_t = readers * ((by_arm - grand) ** 2).sum() / (t - 1) if t > 1 else math.nan
    ms_r = t * ((by_reader - grand) ** 2).sum() / (readers - 1)
    interaction = theta - by_arm[:, None] - by_reader[None, :] + grand
    ms_tr = (interaction**2).sum() / ((t - 1) * (readers - 1)) if t > 1 else math.nan
    return ms_t, ms_r, ms_tr


def _t_interval(estimate, se, df):
    quantile = stats.norm.ppf(0.5 + CONFIDENCE / 2) if math.isinf(df) else stats.t.ppf(0.5 + CONFIDENCE / 2, df)
    return estimate - quantile * se, estimate + quantile * se


def _t_p(statistic, df):
    return float(2 * (stats.norm.sf(abs(statistic)) if math.isinf(df) else stats.t.sf(abs(statistic), df)))


def _hillis_df(error_term, ms, numerator_df):
    """Hillis's Satterthwaite-type df; infinite when the mean square is zero (no reader variation left)."""
    return math.inf if ms == 0 else error_term**2 / (ms**2 / numerator_df)


def single_arm(theta_i, covariance_block, readers):
    """One arm alone, readers random (Hillis 2007), and with readers fixed."""
    mean = float(theta_i.mean())
    ms_r = float(((theta_i - mean) ** 2).sum() / (readers - 1))
    off_diagonal = ~np.eye(readers, dtype=bool)
    cov2 = float(covariance_block[off_diagonal].mean())
    var = float(np.diag(covariance_block).mean())
    error_term = ms_r + readers * max(cov2, 0.0)
    se = math.sqrt(error_term / readers)
    df = _hillis_df(error_term, ms_r, readers - 1)
    low, high = _t_interval(mean, se, df)
    fixed_se = math.sqrt(max(var + (readers - 1) * cov2, 0.0) / readers)
    fixed_low, fixed_high = _t_interval(mean, fixed_se, math.inf)
    return {
        "estimate": mean,
        "se": se,
        "df": df,
        "ci_low": low,
        "ci_high": high,
        "fixed_readers": {"se": fixed_se, "ci_low": fixed_low, "ci_high": fixed_high},
    }


def orh(table, fom, pairs=None):
    """The ORH analysis of `table` under `fom`: per arm, overall F, each pair of `pairs` ((arm, versus): the
    difference arm − versus; by default every pair, earlier arm first), variance components, and the
    fixed-reader analysis. Raises NotEstimable with the reason."""
    t, readers, cases = table.values.shape
    if readers < 2:
        raise NotEstimable(f"needs at least 2 readers with reads in every arm (has {readers})")
    if cases < 2:
        raise NotEstimable(f"needs at least 2 cases (has {cases})")
    theta, jackknife = foms_and_jackknife(table, fom)
    covariance = jackknife_covariance(jackknife)
    var, cov1, cov2, cov3 = error_covariances(covariance, t, readers)
    ms_t, ms_r, ms_tr = mean_squares(theta)
    per_arm = []
    for i, arm in enumerate(table.arms):
        block = covariance[i * readers : (i + 1) * readers, i * readers : (i + 1) * readers]
        per_arm.append({"arm": arm, **single_arm(theta[i], block, readers)})
    result = {
        "arms": list(table.arms),
        "readers": readers,
        "cases": cases,
        "per_arm": per_arm,
        "reader_foms": {arm: dict(zip(table.readers, map(float, theta[i]))) for i, arm in enumerate(table.arms)},
        "covariances": {"var": var, "cov1": cov1, "cov2": cov2, "cov3": cov3},
        "mean_squares": {"ms_t": ms_t, "ms_r": ms_r, "ms_tr": ms_tr},
    }
    if t < 2:
        return {**result, "overall": None, "pairs": [], "variance_components": None, "fixed_readers": None}
    error_term = ms_tr + readers * max(cov2 - cov3, 0.0)
    ddf = _hillis_df(error_term, ms_tr, (t - 1) * (readers - 1))
    f = ms_t / error_term if error_term > 0 else math.inf
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    fixed_term = var - cov1 + (readers - 1) * (cov2 - cov3)
    chi2 = (t - 1) * ms_t / fixed_term if fixed_term > 0 else math.inf
    means = dict(zip(table.arms, theta.mean(axis=1)))
    pairs = [
        _pair(arm, versus, float(means[arm] - means[versus]), error_term, fixed_term, readers, ddf)
        for arm, versus in (pairs or combinations(table.arms, 2))
    ]
    return {
        **result,
        "overall": {"f": f, "ndf": t - 1, "ddf": ddf, "p": float(stats.f.sf(f, t - 1, ddf))},
        "pairs": pairs,
        "variance_components": {
            "var_r": (ms_r - var_tr - var - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t,
            "var_tr": var_tr,
            "var_error": var,
            "cov1": cov1,
            "cov2": cov2,
            "cov3": cov3,
        },
        "fixed_readers": {"chi2": chi2, "df": t - 1, "p": float(stats.chi2.sf(chi2, t - 1))},
    }


def _pair(first, second, difference, error_term, fixed_term, readers, ddf):
    se = math.sqrt(2 * error_term / readers)
    low, high = _t_interval(difference, se, ddf)
    fixed_se = math.sqrt(2 * max(fixed_term, 0.0) / readers)
    fixed_low, fixed_high = _t_interval(difference, fixed_se, math.inf)
    return {
        "arm": first,
        "versus": second,
        "estimate": difference,
        "se": se,
        "df": ddf,
        "t": difference / se if se > 0 else math.inf,
        "p": _t_p(difference / se, ddf) if se > 0 else 0.0,
        "ci_low": low,
        "ci_high": high,
        "fixed_readers": {
            "se": fixed_se,
            "z": difference / fixed_se if fixed_se > 0 else math.inf,
            "p": _t_p(difference / fixed_se, math.inf) if fixed_se > 0 else 0.0,
            "ci_low": fixed_low,
            "ci_high": fixed_high,
        },
    }
