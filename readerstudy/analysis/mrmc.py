"""Every arm comparison by Obuchowski–Rockette with Hillis's df (orh.py), readers and cases random.

Endpoints, each a figure of merit per reader and arm over the analysed reads:
- time: mean log active seconds, shown as geometric means and ratios of geometric means;
- each rating question: mean score, over the arms that ask it;
- accuracy: mean per-read Jaccard (cases with ground truth); sensitivity, the share of abnormal cases a reader
  called abnormal (any finding other than No Finding and Support Devices); specificity, the share of normal
  cases called normal;
- AUC (trapezoidal) for abnormal vs normal, from the abnormality question, when the study asks it.

The study's declared primary comparison (an endpoint and two arms) is reported as primary; every other pairwise
comparison of these endpoints carries a Holm-adjusted p-value. Exploratory, unadjusted: per-label
sensitivity and specificity, and each endpoint on normal and on abnormal cases alone (subgroups). The arm ×
case-type test is an ORH analysis of FOM(abnormal) − FOM(normal) per reader and arm, for time and Jaccard.

A reader without analysed reads in one of an endpoint's arms is left out of that endpoint and named.
"""

import math

import numpy as np
from statsmodels.stats.multitest import multipletests

from readerstudy.core.labels import NORMAL_LABEL_SLUGS
from readerstudy.core.scoring import NEGATIVE, POSITIVE, resolve_truth
from readerstudy.models import ABNORMALITY_KEY

from .dataset import ABNORMAL, CASE_TYPES, NORMAL, rating_column
from .mixed_model import not_estimable
from .orh import NotEstimable, Table, auc_fom, difference_fom, mean_fom, orh

ADJUSTMENT = "Holm"
ASSUMPTION = (
    "ORH assumes no differential carry-over: that a read does not depend on the arm under which the "
    "reader saw the case in an earlier session. The design balances carry-over across arms; the "
    "sensitivity model checks it."
)
SPLIT = ("time", "jaccard")  # the endpoints with an arm × case-type test and normal / abnormal subgroups


def mrmc_section(data):
    study = data.study
    if study.is_free_form:
        return not_estimable(
            "a free-form study is not a crossover design: its readers and cases are not "
            "crossed with its arms, which MRMC analysis needs"
        )
    frame = _with_calls(data)
    primary = {
        "endpoint": study.primary_endpoint,
        "arm": study.primary_arm,
        "versus": study.primary_versus,
        "endpoint_name": study.get_primary_endpoint_display(),
    }
    orient = _orientation(primary)
    endpoints = [analyse_endpoint(frame, spec, data.arms, orient) for spec in _specs(data)]
    found = _mark_primary(endpoints, primary)
    _holm(endpoints)
    return {
        "estimable": True,
        "reason": None,
        "method": "Obuchowski–Rockette, Hillis (2007) df, case jackknife",
        "assumption": ASSUMPTION,
        "adjustment": ADJUSTMENT,
        "primary": {
            **primary,
            "found": found,
            "reason": None if found else "the declared comparison is not among the estimable ones",
        },
        "endpoints": endpoints,
        "interaction": [
            analyse_endpoint(
                frame, {**spec, "fom": difference_fom, "typed": True}, data.arms, orient, role="interaction"
            )
            for spec in _specs(data)
            if spec["kind"] in SPLIT
        ],
        "subgroups": {
            case_type: [
                analyse_endpoint(frame[frame["case_type"] == case_type], spec, data.arms, orient, role="exploratory")
                for spec in _specs(data)
                if spec["kind"] in SPLIT
            ]
            for case_type in CASE_TYPES
        },
        "per_label": _per_label(data, frame, orient),
    }


def _with_calls(data):
    """Per read: did the reader call the case abnormal, and which labels did they tick."""
    frame = data.reads.copy()
    frame["called_abnormal"] = [float(bool(set(findings) - NORMAL_LABEL_SLUGS)) for findings in frame["findings"]]
    frame["called_normal"] = 1.0 - frame["called_abnormal"]
    return frame


TIME = {"kind": "time", "key": "time", "name": "Reading time", "column": "log_active_s", "scale": "log"}
JACCARD = {"kind": "jaccard", "key": "jaccard", "name": "Accuracy (mean Jaccard)", "column": "jaccard", "scale": "mean"}


def _specs(data):
    specs = [{**TIME, "arms": data.arms}]
    # The abnormality rating is analysed as what it is for: an AUC, below.
    specs += [
        {
            "kind": "rating",
            "key": question.key,
            "name": question.text,
            "column": rating_column(question.key),
            "scale": "mean",
            "arms": [arm for arm in data.arms if arm in question.arms],
        }
        for question in data.questions
        if question.key != ABNORMALITY_KEY
    ]
    specs += [
        {**JACCARD, "arms": data.arms},
        {
            "kind": "sensitivity",
            "key": "sensitivity",
            "name": "Sensitivity for abnormal studies",
            "column": "called_abnormal",
            "scale": "proportion",
            "arms": data.arms,
            "cases": ABNORMAL,
        },
        {
            "kind": "specificity",
            "key": "specificity",
            "name": "Specificity for normal studies",
            "column": "called_normal",
            "scale": "proportion",
            "arms": data.arms,
            "cases": NORMAL,
        },
    ]
    abnormality = next((q for q in data.questions if q.key == ABNORMALITY_KEY), None)
    if abnormality is not None:
        specs.append(
            {
                "kind": "auc",
                "key": "auc",
                "name": "AUC, abnormal vs normal",
                "column": rating_column(ABNORMALITY_KEY),
                "scale": "auc",
                "fom": auc_fom,
                "typed": True,
                "arms": [arm for arm in data.arms if arm in abnormality.arms],
            }
        )
    return specs


def later_against_earlier(arms):
    """Every pair of arms as later arm minus earlier arm (Full reasoning − Unaided)."""
    return [(later, earlier) for i, earlier in enumerate(arms) for later in arms[i + 1 :]]


def _orientation(primary):
    """Pairs read later arm minus earlier arm, except that the declared primary pair reads as declared in every
    endpoint."""
    declared = (primary["arm"], primary["versus"])

    def pairs(arms):
        return [declared if (versus, arm) == declared else (arm, versus) for arm, versus in later_against_earlier(arms)]

    return pairs


def analyse_endpoint(frame, spec, arms, orient=later_against_earlier, role="secondary"):
    """ORH on one endpoint. spec: kind, key, name, column, scale, arms; optional fom (default the mean), cases
    (one case type only) and typed (only cases known normal or abnormal: the FOM compares them)."""
    arms = [arm for arm in arms if arm in spec["arms"]]
    described = {
        "kind": spec["kind"],
        "key": spec["key"],
        "name": spec["name"],
        "scale": spec["scale"],
        "arms": arms,
        "role": role,
    }
    rows = frame[frame["arm"].isin(arms) & frame[spec["column"]].notna()]
    if "cases" in spec:
        rows = rows[rows["case_type"] == spec["cases"]]
    if spec.get("typed"):
        rows = rows[rows["case_type"].isin(CASE_TYPES)]
    table, left_out = _table(rows, spec["column"], arms)
    if table is None:
        return {**described, **not_estimable(left_out)}
    try:
        result = orh(table, spec.get("fom", mean_fom), pairs=orient(arms))
    except NotEstimable as refused:
        return {**described, **not_estimable(str(refused)), "readers_left_out": left_out}
    result.pop("mean_squares")
    for pair in result["pairs"]:
        pair.update(primary=False, p_adjusted=None)  # the family of the Holm adjustment sets its own
    endpoint = {**described, "estimable": True, "reason": None, "readers_left_out": left_out, **result}
    return _on_time_scale(endpoint) if spec["scale"] == "log" else endpoint


def _table(rows, column, arms):
    """The arm × reader × case table of `column`, from the readers with analysed reads in every arm."""
    if rows.empty:
        return None, "no analysed reads"
    in_every_arm = rows.groupby("reader")["arm"].nunique() == len(arms)
    readers = sorted(in_every_arm[in_every_arm].index)
    left_out = sorted(in_every_arm[~in_every_arm].index)
    rows = rows[rows["reader"].isin(readers)]
    if not readers:
        return None, "no reader has analysed reads in every arm"
    cases = sorted(rows["case"].unique())
    values = np.full((len(arms), len(readers), len(cases)), np.nan)
    arm_index = {arm: i for i, arm in enumerate(arms)}
    reader_index = {reader: j for j, reader in enumerate(readers)}
    case_index = {case: k for k, case in enumerate(cases)}
    for arm, reader, case, value in zip(rows["arm"], rows["reader"], rows["case"], rows[column]):
        values[arm_index[arm], reader_index[reader], case_index[case]] = value
    types = rows.drop_duplicates("case").set_index("case")["case_type"]
    truth = np.array([1 if types[case] == ABNORMAL else 0 for case in cases])
    return Table(values, truth, tuple(arms), tuple(readers), tuple(cases)), left_out


def _on_time_scale(endpoint):
    """Mean log seconds as geometric mean seconds; differences as ratios of geometric means."""
    for arm in endpoint["per_arm"]:
        arm.update(
            geometric_mean_s=math.exp(arm["estimate"]),
            geometric_ci_low_s=math.exp(arm["ci_low"]),
            geometric_ci_high_s=math.exp(arm["ci_high"]),
        )
    for pair in endpoint["pairs"]:
        pair.update(
            ratio=math.exp(pair["estimate"]),
            ratio_ci_low=math.exp(pair["ci_low"]),
            ratio_ci_high=math.exp(pair["ci_high"]),
        )
    return endpoint


PRIMARY_KINDS = {
    "time": ("time", "time"),
    "jaccard": ("jaccard", "jaccard"),
    "auc": ("auc", "auc"),
    "sensitivity": ("sensitivity", "sensitivity"),
    "specificity": ("specificity", "specificity"),
    "confidence": ("rating", "confidence"),
}


def _mark_primary(endpoints, primary):
    kind, key = PRIMARY_KINDS[primary["endpoint"]]
    found = False
    for endpoint in endpoints:
        for pair in endpoint.get("pairs", []):
            pair["primary"] = (endpoint["kind"], endpoint["key"]) == (kind, key) and (pair["arm"], pair["versus"]) == (
                primary["arm"],
                primary["versus"],
            )
            if pair["primary"]:
                endpoint["role"], found = "primary", True
    return found


def _holm(endpoints):
    """Holm-adjusted p-values over every estimable pairwise comparison but the primary one."""
    family = [pair for endpoint in endpoints for pair in endpoint.get("pairs", []) if not pair["primary"]]
    adjusted = multipletests([pair["p"] for pair in family], method="holm")[1] if family else []
    for pair, p in zip(family, adjusted):
        pair["p_adjusted"] = float(p)


def _per_label(data, frame, orient):
    """Sensitivity and specificity per label, where estimable (exploratory, unadjusted)."""
    truths = {case_id: resolve_truth(truth, blank=data.blank) for case_id, truth in data.truths.items()}
    rows = []
    for slug, name in data.labels:
        ticked = frame.assign(
            ticked=[float(slug in findings) for findings in frame["findings"]],
            untouched=[float(slug not in findings) for findings in frame["findings"]],
        )
        value = ticked["case_id"].map(lambda case_id, slug=slug: truths.get(case_id, {}).get(slug))
        spec = {"kind": "label", "key": slug, "name": name, "scale": "proportion", "arms": data.arms}
        rows.append(
            {
                "label": slug,
                "name": name,
                "sensitivity": analyse_endpoint(
                    ticked[value == POSITIVE], {**spec, "column": "ticked"}, data.arms, orient, role="exploratory"
                ),
                "specificity": analyse_endpoint(
                    ticked[value == NEGATIVE], {**spec, "column": "untouched"}, data.arms, orient, role="exploratory"
                ),
            }
        )
    return rows
