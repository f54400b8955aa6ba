"""The crossover design's properties, over many reader, case and arm counts (hypothesis), for both versions."""

from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.studies.design import (
    DESIGN_VERSION,
    LATIN_SQUARE,
    WILLIAMS,
    DesignCase,
    DesignRefused,
    group_size,
    latin_square,
    plan,
    split_into_blocks,
    williams_square,
)

ARMS = ["UNAIDED", "LABELS_ONLY", "FULL_REASONING"]
VERSIONS = [WILLIAMS, LATIN_SQUARE]


@st.composite
def designs(draw, min_arms=1):
    k = draw(st.integers(min_arms, 4))
    arms = ARMS[:k] if k <= 3 else ARMS + ["EXTRA"]
    n_cases = draw(st.integers(k, 40))
    abnormal = draw(st.lists(st.booleans(), min_size=n_cases, max_size=n_cases))
    cases = [DesignCase(100 + i, flag) for i, flag in enumerate(abnormal)]
    readers = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    version = draw(st.sampled_from(VERSIONS))
    return cases, arms, seed, readers, version


def sequences_on_cases(planned):
    """(reader row, case) -> the arms it is read under, in session order."""
    by_pair = defaultdict(dict)
    for read in planned:
        by_pair[(read.reader_row, read.case_id)][read.session] = read.arm
    return {pair: [arms[s] for s in sorted(arms)] for pair, arms in by_pair.items()}


def carry_over_pairs(planned):
    """How often each arm follows each other arm on the same case in consecutive sessions of one reader."""
    return Counter(
        (arms[i], arms[i + 1]) for arms in sequences_on_cases(planned).values() for i in range(len(arms) - 1)
    )


def test_new_studies_are_designed_with_williams_squares():
    assert DESIGN_VERSION == WILLIAMS == "williams-1"


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_reader_reads_every_case_once_per_arm_and_once_per_session(design):
    cases, arms, seed, readers, version = design
    planned = plan(cases, arms, seed, range(readers), version)
    assert len(planned) == readers * len(cases) * len(arms)
    per_reader = defaultdict(list)
    for read in planned:
        per_reader[read.reader_row].append(read)
    for reads in per_reader.values():
        assert Counter((r.case_id, r.arm) for r in reads) == {(c.id, a): 1 for c in cases for a in arms}
        assert Counter((r.case_id, r.session) for r in reads) == {
            (c.id, s): 1 for c in cases for s in range(1, len(arms) + 1)
        }
        for session in range(1, len(arms) + 1):
            positions = sorted(r.position for r in reads if r.session == session)
            assert positions == list(range(1, len(cases) + 1))


@settings(max_examples=150, deadline=None)
@given(designs())
def test_a_session_reads_each_block_under_one_arm_and_blocks_under_different_arms(design):
    cases, arms, seed, readers, version = design
    arms_of = defaultdict(set)
    for read in plan(cases, arms, seed, range(readers), version):
        arms_of[(read.reader_row, read.session, read.block)].add(read.arm)
    assert all(len(found) == 1 for found in arms_of.values())
    for row in range(readers):
        for session in range(1, len(arms) + 1):
            used = [next(iter(arms_of[(row, session, b)])) for b in range(len(arms))]
            assert sorted(used) == sorted(arms)


@settings(max_examples=150, deadline=None)
@given(designs())
def test_complete_groups_of_readers_form_latin_squares(design):
    """Within each k readers of a group (for odd k, a Williams group is two such halves), every block is read
    under every arm once in each session."""
    cases, arms, seed, readers, version = design
    k = len(arms)
    arm_of = {(r.reader_row, r.session, r.block): r.arm for r in plan(cases, arms, seed, range(readers), version)}
    for first in range(0, readers - readers % k, k):
        rows = range(first, first + k)
        for session in range(1, k + 1):
            for block in range(k):
                assert sorted(arm_of[(row, session, block)] for row in rows) == sorted(arms)


@settings(max_examples=150, deadline=None)
@given(designs(min_arms=2))
def test_williams_complete_groups_balance_carry_over_on_the_same_case(design):
    cases, arms, seed, readers, _ = design
    k = len(arms)
    size = group_size(WILLIAMS, k)
    planned = plan(cases, arms, seed, range(readers), WILLIAMS)
    every_pair = {(a, b) for a in arms for b in arms if a != b}
    for group in range(readers // size):
        rows = set(range(group * size, group * size + size))
        pairs = carry_over_pairs([r for r in planned if r.reader_row in rows])
        # Each of the k(k−1) ordered pairs equally often: (k − 1) transitions per case and reader.
        assert pairs == {pair: len(cases) * size * (k - 1) // len(every_pair) for pair in every_pair}


@pytest.mark.parametrize("k, size", [(2, 2), (3, 6), (4, 4)])
def test_williams_one_complete_group_gives_each_ordered_pair_equally_often(k, size):
    arms = (ARMS + ["EXTRA"])[:k]
    cases = [DesignCase(i, i % 3 == 0) for i in range(30)]
    assert group_size(WILLIAMS, k) == size
    pairs = carry_over_pairs(plan(cases, arms, 4, range(size), WILLIAMS))
    assert set(pairs) == {(a, b) for a in arms for b in arms if a != b}
    assert len(set(pairs.values())) == 1


def test_latin_square_1_confounds_carry_over_with_arm():
    """Why williams-1 replaced it: with three arms Unaided always follows Full reasoning, never Labels only."""
    cases = [DesignCase(i, i % 2 == 0) for i in range(30)]
    pairs = carry_over_pairs(plan(cases, ARMS, 3, range(6), LATIN_SQUARE))
    assert set(pairs) == {("UNAIDED", "LABELS_ONLY"), ("LABELS_ONLY", "FULL_REASONING"), ("FULL_REASONING", "UNAIDED")}


def test_seven_readers_and_thirty_three_cases_read_every_case_once_under_each_arm():
    cases = [DesignCase(i, i % 3 == 0) for i in range(33)]
    planned = plan(cases, ARMS, 12, range(7))
    assert len(planned) == 7 * 33 * 3
    assert Counter((r.reader_row, r.case_id, r.arm) for r in planned) == {
        (row, c.id, arm): 1 for row in range(7) for c in cases for arm in ARMS
    }
    # The first six make one complete group; the seventh starts the next.
    assert set(carry_over_pairs([r for r in planned if r.reader_row < 6]).values()) == {66}


def test_the_williams_squares_are_latin_and_balanced():
    for k in range(1, 7):
        square = williams_square(k)
        assert all(sorted(row) == list(range(k)) for row in square)
        assert all(sorted(col) == list(range(k)) for col in zip(*square))
        rows = square if k % 2 == 0 else square + [row[::-1] for row in square]
        follows = Counter((row[i], row[i + 1]) for row in rows for i in range(k - 1))
        assert set(follows.values()) <= {1 if k % 2 == 0 else 2}
        assert len(follows) == k * (k - 1)


def test_latin_square_1_studies_stay_reproducible_from_their_seed():
    """The arms of latin-square-1 as designs made before williams-1 have them (case and arm initial, in the
    order read)."""
    cases = [DesignCase(i, i % 2 == 0) for i in range(1, 6)]
    by_session = defaultdict(list)
    for read in plan(cases, ARMS, 7, range(4), LATIN_SQUARE):
        by_session[(read.reader_row, read.session)].append(f"{read.case_id}{read.arm[0]}")
    assert {key: " ".join(reads) for key, reads in by_session.items()} == {
        (0, 1): "4F 2L 3L 5U 1F",
        (0, 2): "4U 3F 2F 5L 1U",
        (0, 3): "4L 3U 2U 1L 5F",
        (1, 1): "3U 2U 4L 1L 5F",
        (1, 2): "5U 4F 3L 1F 2L",
        (1, 3): "3F 2F 4U 1U 5L",
        (2, 1): "3F 1U 5L 4U 2F",
        (2, 2): "1L 5F 4L 2U 3U",
        (2, 3): "2L 1F 5U 3L 4F",
        (3, 1): "2U 1L 4L 3U 5F",
        (3, 2): "3L 2L 4F 5U 1F",
        (3, 3): "5L 4U 2F 1U 3F",
    }


def test_an_unknown_design_version_is_refused():
    with pytest.raises(
        DesignRefused, match="^Unknown design version 'cyclic-9'; this software makes williams-1, latin-square-1.$"
    ):
        plan([DesignCase(1, False)], ["UNAIDED"], 1, range(1), "cyclic-9")


@settings(max_examples=150, deadline=None)
@given(designs())
def test_blocks_are_balanced_for_size_and_normality(design):
    cases, arms, seed, _, _ = design
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
    cases, arms, seed, readers, version = design
    whole = plan(cases, arms, seed, range(readers + 1), version)
    assert whole == plan(cases, arms, seed, range(readers + 1), version)
    added_later = plan(cases, arms, seed, range(readers, readers + 1), version)
    assert [r for r in whole if r.reader_row == readers] == added_later


@pytest.mark.parametrize("version", VERSIONS)
def test_another_seed_gives_another_design(version):
    cases = [DesignCase(i, i % 3 == 0) for i in range(30)]
    assert plan(cases, ARMS, 1, range(6), version) != plan(cases, ARMS, 2, range(6), version)


def test_the_squares_are_latin():
    for k in range(1, 6):
        for group in range(4):
            square = latin_square(k, group, seed=7)
            assert all(sorted(row) == list(range(k)) for row in square)
            assert all(sorted(col) == list(range(k)) for col in zip(*square))


def test_fewer_cases_than_arms_is_refused():
    with pytest.raises(DesignRefused, match="The case set has 2 case\\(s\\); a design with 3 arms needs at least 3."):
        plan([DesignCase(1, False), DesignCase(2, True)], ARMS, 1, range(3))


@pytest.mark.parametrize("version", VERSIONS)
def test_six_readers_thirty_cases_three_arms_give_540_planned_reads(version):
    cases = [DesignCase(i, i % 2 == 0) for i in range(30)]
    planned = plan(cases, ARMS, 99, range(6), version)
    assert len(planned) == 540
    assert Counter(r.arm for r in planned) == {arm: 180 for arm in ARMS}
