"""Sequential reading (the second-read design): did readers change their findings after seeing the AI, and
were the changes right?

Per AI arm, over the analysed reads with a first report (committed before the AI output was shown):
- changed: reads whose final findings differ from the first report's, with a Wilson 95% interval;
- per label, each label added or removed after the AI, scored against ground truth as reads are scored
  (core/scoring.py, under the study's blank rule): a change of an evaluable label turns a wrong call right
  or a right call wrong, so wrong → right + right → wrong = the changes of evaluable labels, and the net
  is their difference; changes of labels without evaluable truth are counted apart;
- per read, on cases with ground truth: the reads whose Jaccard index rose or fell from the first report to
  the final one;
- the median active time of each phase (the first report's, and the final read's less it).
"""

import statistics
from dataclasses import dataclass

from statsmodels.stats.proportion import proportion_confint

from readerstudy.core.scoring import has_truth, score_case
from readerstudy.models import AI_ARMS

from .mixed_model import not_estimable

RIGHT = frozenset({"tp", "tn"})


@dataclass(frozen=True)
class ReadChange:
    """What one sequential read changed after the AI."""

    added: frozenset
    removed: frozenset
    wrong_to_right: frozenset  # changed labels that were wrong in the first report and right in the final one
    right_to_wrong: frozenset
    unscored: frozenset  # changed labels without evaluable truth in this case
    jaccard_before: float | None  # None: the case has no ground truth
    jaccard_after: float | None
    unaided_ms: int
    aided_ms: int

    @property
    def changed(self):
        return bool(self.added or self.removed)


def read_change(before, after, truth, blank, unaided_ms, aided_ms):
    """The change from the first report's findings (`before`) to the final read's (`after`)."""
    added, removed = frozenset(after) - frozenset(before), frozenset(before) - frozenset(after)
    scored = has_truth(truth, blank=blank)
    first, final = score_case(before, truth, blank=blank), score_case(after, truth, blank=blank)
    evaluable = set(final.outcomes)
    changed = added | removed
    return ReadChange(
        added=added,
        removed=removed,
        wrong_to_right=frozenset(s for s in changed & evaluable if first.outcomes[s] not in RIGHT),
        right_to_wrong=frozenset(s for s in changed & evaluable if first.outcomes[s] in RIGHT),
        unscored=frozenset(changed - evaluable),
        jaccard_before=first.jaccard if scored else None,
        jaccard_after=final.jaccard if scored else None,
        unaided_ms=unaided_ms,
        aided_ms=aided_ms,
    )


def sequential_section(data):
    arms = [arm for arm in data.arms if arm in AI_ARMS]
    if not arms:
        return not_estimable("the study has no AI arm")
    rows = data.reads[data.reads["arm"].isin(arms)]
    changes, without_first = {arm: [] for arm in arms}, dict.fromkeys(arms, 0)
    for read_id, arm, findings, case_id, active_ms in zip(
        rows["read"], rows["arm"], rows["findings"], rows["case_id"], rows["active_ms"]
    ):
        first = data.first_reads.get(read_id)
        if first is None:
            without_first[arm] += 1
            continue
        aided_ms = max(0, int(active_ms) - first.active_ms)
        changes[arm].append(
            read_change(first.findings, findings, data.truths[case_id], data.blank, first.active_ms, aided_ms)
        )
    if not any(changes.values()):
        return not_estimable("no analysed AI-arm read has a first report")
    names = dict(data.labels)
    return {
        "estimable": True,
        "reason": None,
        "per_arm": [summarise(arm, changes[arm], without_first[arm], names) for arm in arms],
    }


def summarise(arm, changes, without_first, names):
    n = len(changes)
    changed = sum(change.changed for change in changes)
    low, high = proportion_confint(changed, n, alpha=0.05, method="wilson") if n else (None, None)
    wrong_to_right = sum(len(change.wrong_to_right) for change in changes)
    right_to_wrong = sum(len(change.right_to_wrong) for change in changes)
    scored = [change for change in changes if change.jaccard_before is not None]
    return {
        "arm": arm,
        "reads": n,
        "reads_without_first_report": without_first,
        "changed": changed,
        "change_rate": changed / n if n else None,
        "change_ci_low": low,
        "change_ci_high": high,
        "labels_added": sum(len(change.added) for change in changes),
        "labels_removed": sum(len(change.removed) for change in changes),
        "wrong_to_right": wrong_to_right,
        "right_to_wrong": right_to_wrong,
        "net_corrections": wrong_to_right - right_to_wrong,
        "unscored_changes": sum(len(change.unscored) for change in changes),
        "reads_scored": len(scored),
        "reads_improved": sum(change.jaccard_after > change.jaccard_before for change in scored),
        "reads_worsened": sum(change.jaccard_after < change.jaccard_before for change in scored),
        "median_unaided_s": _median_s([change.unaided_ms for change in changes]),
        "median_aided_s": _median_s([change.aided_ms for change in changes]),
        "per_label": _per_label(changes, names),
    }


def _per_label(changes, names):
    """The labels changed in any read, in the vocabulary's order (then any other), with their counts."""
    changed = {slug for change in changes for slug in change.added | change.removed}
    order = [slug for slug in names if slug in changed] + sorted(changed - set(names))
    return [
        {
            "label": slug,
            "name": names.get(slug, slug),
            "added": sum(slug in change.added for change in changes),
            "removed": sum(slug in change.removed for change in changes),
            "wrong_to_right": sum(slug in change.wrong_to_right for change in changes),
            "right_to_wrong": sum(slug in change.right_to_wrong for change in changes),
        }
        for slug in order
    ]


def _median_s(values):
    return statistics.median(values) / 1000 if values else None
