"""The crossover design's properties, over many reader, case and arm counts (hypothesis)."""

from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.services.design import DesignCase, DesignRefused, latin_square, plan, split_into_blocks

ARMS = ["UNAIDED", "LABELS_ONLY", "FULL_REASONING"]


@st.composite
def designs(draw):
    k = draw(st.integers(1, 4))
    arms = ARMS[:k] if k <= 3 else ARMS + ["EXTRA"]
    n_cases = draw(st.integers(k, 40))
    abnormal = draw(st.lists(st.booleans(), min_size=n_cases, max_size=n_cases))
    cases = [DesignCase(100 + i, flag) for i, flag in enumerate(abnormal)]
    readers = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    return cases, arms, seed, readers


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_reader_reads_every_case_once_per_arm_and_once_per_session(design):
    cases, arms, seed, readers = design
    planned = plan(cases, arms, seed, range(readers))
    assert len(planned) == readers * len(cases) * len(arms)
    per_reader = defaultdict(list)
    for read in planned:
        per_reader[read.reader_row].append(read)
    for reads in per_reader.values():
        assert Counter((r.case_id, r.arm) for r in reads) == {(c.id, a): 1 for c in cases for a in arms}
        assert Counter((r.case_id, r.session) for r in reads) == {
            (c.id, s): 1 for c in cases for s in range(1, len(arms) + 1)}
        for session in range(1, len(arms) + 1):
            positions = sorted(r.position for r in reads if r.session == session)
            assert positions == list(range(1, len(cases) + 1))


@settings(max_examples=150, deadline=None)
@given(designs())
def test_a_session_reads_each_block_under_one_arm_and_blocks_under_different_arms(design):
    cases, arms, seed, readers = design
    arms_of = defaultdict(set)
    for read in plan(cases, arms, seed, range(readers)):
        arms_of[(read.reader_row, read.session, read.block)].add(read.arm)
    assert all(len(found) == 1 for found in arms_of.values())
    for row in range(readers):
        for session in range(1, len(arms) + 1):
            used = [next(iter(arms_of[(row, session, b)])) for b in range(len(arms))]
            assert sorted(used) == sorted(arms)


@settings(max_examples=150, deadline=None)
@given(designs())
def test_complete_groups_of_readers_form_latin_squares(design):
    cases, arms, seed, readers = design
    k = len(arms)
    arm_of = {(r.reader_row, r.session, r.block): r.arm for r in plan(cases, arms, seed, range(readers))}
    for group in range(readers // k):
        rows = range(group * k, group * k + k)
        for session in range(1, k + 1):
            for block in range(k):
                assert sorted(arm_of[(row, session, block)] for row in rows) == sorted(arms)


@settings(max_examples=150, deadline=None)
@given(designs())
def test_blocks_are_balanced_for_size_and_normality(design):
    cases, arms, seed, _ = design
    blocks = split_into_blocks(cases, len(arms), seed)
    abnormal = {c.id for c in cases if c.abnormal}
    sizes = [len(b) for b in blocks]
    abnormal_counts = [len(set(b) & abnormal) for b in blocks]
    normal_counts = [s - a for s, a in zip(sizes, abnormal_counts)]
    assert sorted(case for block in blocks for case in block) == sorted(c.id for c in cases)
    for counts in (sizes, abnormal_counts, normal_counts):
        assert max(counts) - min(counts) <= 1


@settings(max_examples=50, deadline=None)
@given(designs())
def test_the_same_inputs_give_the_same_design_and_a_later_reader_continues_it(design):
    cases, arms, seed, readers = design
    whole = plan(cases, arms, seed, range(readers + 1))
    assert whole == plan(cases, arms, seed, range(readers + 1))
    added_later = plan(cases, arms, seed, range(readers, readers + 1))
    assert [r for r in whole if r.reader_row == readers] == added_later


def test_another_seed_gives_another_design():
    cases = [DesignCase(i, i % 3 == 0) for i in range(30)]
    assert plan(cases, ARMS, 1, range(6)) != plan(cases, ARMS, 2, range(6))


def test_the_squares_are_latin():
    for k in range(1, 6):
        for group in range(4):
            square = latin_square(k, group, seed=7)
            assert all(sorted(row) == list(range(k)) for row in square)
            assert all(sorted(col) == list(range(k)) for col in zip(*square))


def test_fewer_cases_than_arms_is_refused():
    with pytest.raises(DesignRefused, match="The case set has 2 case\\(s\\); a design with 3 arms needs at least 3."):
        plan([DesignCase(1, False), DesignCase(2, True)], ARMS, 1, range(3))


def test_six_readers_thirty_cases_three_arms_give_540_planned_reads():
    cases = [DesignCase(i, i % 2 == 0) for i in range(30)]
    planned = plan(cases, ARMS, 99, range(6))
    assert len(planned) == 540
    assert Counter(r.arm for r in planned) == {arm: 180 for arm in ARMS}
