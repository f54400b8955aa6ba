"""The ORH module against published output (Van Dyke et al. 1993, OR-DBM MRMC 2.5) and, for three arms, against
an independent implementation written here from the Dorfman–Berbaum–Metz pseudovalue ANOVA, which Hillis et al.
(2005) showed equals Obuchowski–Rockette with jackknife covariances and Hillis's df.

DB-free: run with `pytest -p no:django --noconftest tests/test_orh.py` or with the Django plugin.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from readerstudy.analysis.orh import NotEstimable, Table, auc_fom, difference_fom, mean_fom, orh

VAN_DYKE = Path(__file__).resolve().parent / "data" / "vandyke_roc.csv"  # see tests/data/README.md


def rel(expected):
    return pytest.approx(expected, rel=1e-4)


def van_dyke_table(arms=(0, 1)):
    frame = pd.read_csv(VAN_DYKE)
    cases = sorted(frame["case"].unique())
    values = np.full((len(arms), 5, len(cases)), np.nan)
    index = {case: k for k, case in enumerate(cases)}
    for row in frame[frame["modality"].isin(arms)].itertuples():
        values[arms.index(row.modality), row.reader, index[row.case]] = row.rating
    truth = frame.drop_duplicates("case").set_index("case").loc[cases, "abnormal"].to_numpy()
    return Table(values, truth, tuple(arms), tuple(str(r) for r in range(5)), tuple(cases))


@pytest.fixture(scope="module")
def van_dyke():
    return orh(van_dyke_table(), auc_fom)


def test_van_dyke_reader_aucs_and_modality_means(van_dyke):
    assert van_dyke["reader_foms"][0]["0"] == rel(0.91964573)
    assert van_dyke["reader_foms"][1]["0"] == rel(0.94782609)
    assert [arm["estimate"] for arm in van_dyke["per_arm"]] == [rel(0.89703704), rel(0.94083736)]


def test_van_dyke_random_readers_and_cases(van_dyke):
    overall = van_dyke["overall"]
    assert (overall["f"], overall["ndf"], overall["ddf"], overall["p"]) == (
        rel(4.456319),
        1,
        rel(15.259675),
        rel(0.05166569),
    )
    [pair] = van_dyke["pairs"]
    assert (pair["arm"], pair["versus"]) == (0, 1)
    assert (pair["estimate"], pair["se"], pair["df"], pair["p"]) == (
        rel(-0.04380032),
        rel(0.02074862),
        rel(15.259675),
        rel(0.05166569),
    )
    assert (pair["ci_low"], pair["ci_high"]) == (rel(-0.08795950), rel(0.00035885))


def test_van_dyke_variance_components(van_dyke):
    assert van_dyke["variance_components"] == {
        "var_r": rel(0.00153500),
        "var_tr": rel(0.00020040),
        "cov1": rel(0.00034661),
        "cov2": rel(0.00034407),
        "cov3": rel(0.00023903),
        "var_error": rel(0.00080229),
    }


def test_van_dyke_single_modality(van_dyke):
    assert [(arm["se"], arm["df"]) for arm in van_dyke["per_arm"]] == [
        (rel(0.03317360), rel(12.744648)),
        (rel(0.02156637), rel(12.710190)),
    ]


def test_van_dyke_fixed_readers(van_dyke):
    fixed = van_dyke["fixed_readers"]
    assert (fixed["chi2"], fixed["df"], fixed["p"]) == (rel(5.475953), 1, rel(0.01927984))
    assert van_dyke["pairs"][0]["fixed_readers"]["se"] == rel(0.01871748)
    assert [arm["fixed_readers"]["se"] for arm in van_dyke["per_arm"]] == [rel(0.02428971), rel(0.01677632)]


# --- three arms: an independent implementation -------------------------------------------------------------


def three_arm_table(seed=7):
    """Van Dyke's two modalities and a third made from the first with seeded noise (ratings 1–5)."""
    two = van_dyke_table()
    rng = np.random.default_rng(seed)
    third = np.clip(two.values[0] + rng.integers(-1, 2, size=two.values[0].shape), 1, 5)
    return Table(np.concatenate([two.values, third[None]]), two.truth, (0, 1, 2), two.readers, two.cases)


def dbm_auc(ratings, truth):
    """Wilcoxon AUC through scipy's Mann–Whitney U, not the module's formula."""
    abnormal, normal = ratings[truth == 1], ratings[truth == 0]
    return stats.mannwhitneyu(abnormal, normal).statistic / (len(abnormal) * len(normal))


def dbm(table):
    """DBM: centred jackknife pseudovalues, a treatment × reader × case ANOVA, Hillis's denominator and df."""
    t, r, c = table.values.shape
    theta = np.array([[dbm_auc(table.values[i, j], table.truth) for j in range(r)] for i in range(t)])
    pseudo = np.empty((t, r, c))
    for k in range(c):
        keep = np.arange(c) != k
        for i in range(t):
            for j in range(r):
                pseudo[i, j, k] = c * theta[i, j] - (c - 1) * dbm_auc(table.values[i, j, keep], table.truth[keep])
    pseudo += (theta - pseudo.mean(axis=2))[:, :, None]  # centred: the pseudovalues average to θ
    grand = pseudo.mean()
    m_t, m_r, m_c = pseudo.mean(axis=(1, 2)), pseudo.mean(axis=(0, 2)), pseudo.mean(axis=(0, 1))
    m_tr, m_tc = pseudo.mean(axis=2), pseudo.mean(axis=1)
    ms_t = r * c * ((m_t - grand) ** 2).sum() / (t - 1)
    ms_tr = c * ((m_tr - m_t[:, None] - m_r[None, :] + grand) ** 2).sum() / ((t - 1) * (r - 1))
    ms_tc = r * ((m_tc - m_t[:, None] - m_c[None, :] + grand) ** 2).sum() / ((t - 1) * (c - 1))
    m_rc = pseudo.mean(axis=0)
    residual = (
        pseudo
        - m_tr[:, :, None]
        - m_tc[:, None, :]
        - m_rc[None, :, :]
        + m_t[:, None, None]
        + m_r[None, :, None]
        + m_c[None, None, :]
        - grand
    )
    ms_trc = (residual**2).sum() / ((t - 1) * (r - 1) * (c - 1))
    denominator = ms_tr + max(ms_tc - ms_trc, 0)
    ddf = denominator**2 / (ms_tr**2 / ((t - 1) * (r - 1)))
    pairs = {}
    for a in range(t):
        for b in range(a + 1, t):
            difference = m_t[a] - m_t[b]
            se = math.sqrt(2 * denominator / (r * c))
            pairs[(a, b)] = (difference, se, 2 * stats.t.sf(abs(difference / se), ddf))
    single = []
    for i in range(t):
        y = pseudo[i]
        ms_r_i = c * ((y.mean(axis=1) - y.mean()) ** 2).sum() / (r - 1)
        ms_c_i = r * ((y.mean(axis=0) - y.mean()) ** 2).sum() / (c - 1)
        ms_rc_i = ((y - y.mean(axis=1)[:, None] - y.mean(axis=0)[None, :] + y.mean()) ** 2).sum() / ((r - 1) * (c - 1))
        term = ms_r_i + max(ms_c_i - ms_rc_i, 0)
        single.append((math.sqrt(term / (r * c)), term**2 / (ms_r_i**2 / (r - 1))))
    return {
        "f": ms_t / denominator,
        "ddf": ddf,
        "p": stats.f.sf(ms_t / denominator, t - 1, ddf),
        "pairs": pairs,
        "single": single,
    }


@pytest.fixture(scope="module")
def three():
    table = three_arm_table()
    return table, orh(table, auc_fom), dbm(table)


def test_three_arms_match_the_dbm_pseudovalue_anova(three):
    _, result, independent = three
    overall = result["overall"]
    assert (overall["f"], overall["ndf"], overall["ddf"], overall["p"]) == (
        rel(independent["f"]),
        2,
        rel(independent["ddf"]),
        rel(independent["p"]),
    )
    assert len(result["pairs"]) == 3
    for pair in result["pairs"]:
        difference, se, p = independent["pairs"][(pair["arm"], pair["versus"])]
        assert (pair["estimate"], pair["se"], pair["df"], pair["p"]) == (
            rel(difference),
            rel(se),
            rel(independent["ddf"]),
            rel(p),
        )
    assert [(arm["se"], arm["df"]) for arm in result["per_arm"]] == [
        (rel(se), rel(df)) for se, df in independent["single"]
    ]


def test_a_pair_analysed_alone_equals_the_two_arm_analysis_and_keeps_its_estimate_among_three(three):
    table, result, _ = three
    subset = Table(table.values[[0, 2]], table.truth, (0, 2), table.readers, table.cases)
    alone = orh(subset, auc_fom)
    assert alone["overall"]["p"] == rel(dbm(subset)["p"])
    [pair_alone] = alone["pairs"]
    among_three = next(p for p in result["pairs"] if (p["arm"], p["versus"]) == (0, 2))
    assert among_three["estimate"] == rel(pair_alone["estimate"])
    # Its SE and df come from the error term of all three arms, so they differ.
    assert among_three["df"] == result["overall"]["ddf"] != pair_alone["df"]
    # The first two arms alone are the Van Dyke analysis itself.
    assert orh(Table(table.values[:2], table.truth, (0, 1), table.readers, table.cases), auc_fom)["overall"][
        "f"
    ] == rel(4.456319)


# --- means, missing reads and what cannot be estimated ---------------------------------------------------


def test_the_jackknife_of_a_mean_leaves_a_case_out_only_where_it_was_read():
    values = np.array(
        [[[1.0, 2.0, 3.0, np.nan], [2.0, 2.0, 4.0, 6.0]], [[0.5, 1.0, np.nan, 2.0], [1.0, 1.5, 2.5, 3.0]]]
    )
    result = orh(Table(values, np.array([0, 1, 0, 1]), ("A", "B"), ("R1", "R2"), ("a", "b", "c", "d")), mean_fom)
    assert result["reader_foms"] == {"A": {"R1": 2.0, "R2": 3.5}, "B": {"R1": pytest.approx(3.5 / 3), "R2": 2.0}}
    assert result["pairs"][0]["estimate"] == pytest.approx((2.0 + 3.5) / 2 - (3.5 / 3 + 2.0) / 2)


def test_the_difference_fom_is_abnormal_minus_normal():
    assert difference_fom(np.array([1.0, 3.0, 5.0, 9.0]), np.array([0, 1, 0, 1])) == 3.0
    assert math.isnan(difference_fom(np.array([1.0, 3.0]), np.array([1, 1])))


def test_what_cannot_be_estimated_says_why():
    values = np.ones((2, 1, 3))
    with pytest.raises(NotEstimable, match="^needs at least 2 readers with reads in every arm \\(has 1\\)$"):
        orh(Table(values, np.array([0, 1, 1]), ("A", "B"), ("R1",), ("a", "b", "c")), mean_fom)
    one_normal = Table(np.ones((2, 2, 3)), np.array([0, 1, 1]), ("A", "B"), ("R1", "R2"), ("a", "b", "c"))
    with pytest.raises(
        NotEstimable, match="^the figure of merit cannot be computed for every reader and arm with each case left out$"
    ):
        orh(one_normal, auc_fom)


def test_one_arm_gives_its_interval_and_no_comparison():
    table = van_dyke_table(arms=(1,))
    result = orh(table, auc_fom)
    assert (result["overall"], result["pairs"], result["fixed_readers"]) == (None, [], None)
    assert (result["per_arm"][0]["estimate"], result["per_arm"][0]["se"]) == (rel(0.94083736), rel(0.02156637))
