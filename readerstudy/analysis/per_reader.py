"""Each reader's time, ratings and accuracy by arm: who drives an effect, and who reads unlike the others."""

from .dataset import rating_column
from .reading_time import arm_times


def per_reader_section(data):
    rows = []
    for reader, frame in data.reads.groupby("reader", sort=True):
        for arm in data.arms:
            in_arm = frame[frame["arm"] == arm]
            times = arm_times(in_arm, arm)
            jaccard = in_arm["jaccard"].dropna()
            rows.append(
                {
                    "reader": reader,
                    "arm": arm,
                    "n": times["n"],
                    "median_s": times["median_s"],
                    "mean_jaccard": float(jaccard.mean()) if jaccard.size else None,
                    "ratings": {q.key: _mean(in_arm[rating_column(q.key)]) for q in data.questions if arm in q.arms},
                }
            )
    return {"questions": [q.key for q in data.questions], "rows": rows}


def _mean(values):
    values = values.dropna()
    return float(values.mean()) if values.size else None
