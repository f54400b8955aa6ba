"""The counterbalanced crossover design, as a pure function of the study's inputs (no database here).

For k arms the case set is split into k blocks balanced for normal and abnormal cases. A reader has k
sessions; in each session every case is read once, each block under a different arm, and over the k
sessions every case is read once under each arm. So each reader gives each block a sequence of arms over the
sessions, and the k sequences of one reader form a Latin square (rows: blocks, columns: sessions).

Two versions make those sequences; a study keeps the one it was designed with:

- `williams-1` (new studies): Williams squares, balanced for first-order carry-over. For an even k one
  Williams square holds k sequences in which each arm is preceded by each other arm exactly once; for an odd
  k no single square does, so the square and its mirror image together (2k sequences) give each ordered pair
  twice. A complete group is k readers (even k) or 2k (odd k): reader j of the group reads block b with
  sequence (b + j) mod k of its square (the first k readers use the square, the next k its mirror). Within a
  complete group every block is read with every sequence once, so on the same case each arm follows each
  other arm equally often in consecutive sessions, and in each session each block is read under each arm
  equally often. Per group, the arms are randomly relabelled and the sequences randomly ordered (within the
  square and within the mirror, and which of the two comes first), all from the study's seed.
- `latin-square-1` (studies designed before): one random Latin square L per group of k readers and
  arm(r, s, b) = (L[r][b] + s) mod k. Balanced for order, not for carry-over (the arms always step forward:
  with three arms Unaided always follows Full reasoning on the same case). Kept so those studies stay
  reproducible from their seed and readers added later continue them.

In both, the case order is shuffled per reader and session, a partial group (or a reader added later) takes
the next sequences of its group, and everything random comes from the study's seed, so the same inputs give
the same design.
"""

import random
from dataclasses import dataclass

from readerstudy.core.errors import Refused

WILLIAMS = "williams-1"
LATIN_SQUARE = "latin-square-1"
DESIGN_VERSION = WILLIAMS  # what new studies are designed with


class DesignRefused(Refused):
    pass


@dataclass(frozen=True)
class DesignCase:
    id: int
    abnormal: bool


@dataclass(frozen=True)
class PlannedRead:
    reader_row: int  # the reader's row in the design: 0 for the first reader ever designed into the study
    session: int  # from 1
    position: int  # from 1, within the session
    case_id: int
    arm: str
    block: int


def split_into_blocks(cases, k, seed):
    """k blocks of case ids, sizes differing by at most one, normal and abnormal cases each spread evenly."""
    rng = random.Random(f"{seed}/blocks")
    normal = [c.id for c in cases if not c.abnormal]
    abnormal = [c.id for c in cases if c.abnormal]
    rng.shuffle(normal)
    rng.shuffle(abnormal)
    blocks = [[] for _ in range(k)]
    # Abnormal cases continue dealing where the normal ones stopped, so total sizes stay within one.
    for i, case_id in enumerate(normal + abnormal):
        blocks[i % k].append(case_id)
    return blocks


def latin_square(k, group, seed):
    """A random k×k Latin square for reader group `group`: the cyclic square with rows, columns and
    symbols permuted."""
    rng = random.Random(f"{seed}/square/{group}")
    rows, columns, symbols = (rng.sample(range(k), k) for _ in range(3))
    return [[symbols[(rows[r] + columns[b]) % k] for b in range(k)] for r in range(k)]


def williams_square(k):
    """The standard Williams square: first row 0, 1, k−1, 2, k−2, …; row i adds i (mod k)."""
    first, low, high = [0], 1, k - 1
    while len(first) < k:
        first.append(low)
        low += 1
        if len(first) < k:
            first.append(high)
            high -= 1
    return [[(arm + i) % k for arm in first] for i in range(k)]


def group_size(version, k):
    """Readers in a complete group: the design's balance holds over each complete group."""
    return 2 * k if version == WILLIAMS and k % 2 else k


def _latin_square_sequences(k, row, seed):
    square = latin_square(k, row // k, seed)
    return [[(square[row % k][block] + session) % k for session in range(k)] for block in range(k)]


def _williams_sequences(k, row, seed):
    group, j = divmod(row, group_size(WILLIAMS, k))
    rng = random.Random(f"{seed}/williams/{group}")
    symbols = rng.sample(range(k), k)
    square = [[symbols[arm] for arm in sequence] for sequence in williams_square(k)]
    halves = [rng.sample(square, k)]
    if k % 2:
        halves.append(rng.sample([sequence[::-1] for sequence in square], k))
        rng.shuffle(halves)
    sequences = halves[j // k]
    return [sequences[(block + j) % k] for block in range(k)]


BALANCED_FOR = {WILLIAMS: "order and carry-over", LATIN_SQUARE: "order (not carry-over)"}

# version -> (k, reader row, seed) -> for each block, the arm indices of sessions 1..k
SEQUENCES = {WILLIAMS: _williams_sequences, LATIN_SQUARE: _latin_square_sequences}


def plan(cases, arms, seed, reader_rows, version=DESIGN_VERSION):
    """The planned reads of the design rows `reader_rows` (e.g. range(6)), in session and position order."""
    if version not in SEQUENCES:
        raise DesignRefused(f"Unknown design version {version!r}; this software makes {', '.join(SEQUENCES)}.")
    k = len(arms)
    if k == 0:
        raise DesignRefused("The study has no arms.")
    if len(cases) < k:
        raise DesignRefused(f"The case set has {len(cases)} case(s); a design with {k} arms needs at least {k}.")
    blocks = split_into_blocks(cases, k, seed)
    block_of = {case_id: b for b, block in enumerate(blocks) for case_id in block}
    ordered_ids = [c.id for c in cases]
    planned = []
    for row in reader_rows:
        sequences = SEQUENCES[version](k, row, seed)
        for session in range(1, k + 1):
            order = ordered_ids[:]
            random.Random(f"{seed}/order/{row}/{session}").shuffle(order)
            for position, case_id in enumerate(order, start=1):
                block = block_of[case_id]
                planned.append(PlannedRead(row, session, position, case_id, arms[sequences[block][session - 1]], block))
    return planned
