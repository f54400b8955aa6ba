"""Which arm a reader last read a case under: the carry-over a read may bring from an earlier session.

The previous arm of a read is the arm of the same reader's assignment of the same case in the latest earlier
session; practice cases and a case's first reading have none. Exports, the analysis's sensitivity model and
the dry-run simulation all take it from here.
"""

from readerstudy.models import Assignment


def previous_arms(study):
    """{assignment id: the arm the reader read its case under in their latest earlier session, or None}."""
    by_pair = {}
    for pk, reader_id, case_id, index, arm in (
        Assignment.objects.filter(study=study, is_practice=False)
        .order_by("session__index", "pk")
        .values_list("pk", "reader_id", "case_id", "session__index", "arm")
    ):
        by_pair.setdefault((reader_id, case_id), []).append((index, pk, arm))
    previous = {}
    for reads in by_pair.values():
        for (index, pk, _), earlier in zip(reads, [None] + reads[:-1]):
            previous[pk] = earlier[2] if earlier is not None and earlier[0] < index else None
    return previous
