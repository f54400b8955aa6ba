"""The counterbalanced crossover design, as a pure function of the study's inputs (no database here).

For k arms the case set is split into k blocks balanced for normal and abnormal cases. A reader has k
sessions; in each session every case is read once, each block under a different arm, and over the k
sessions every case is read once under each arm. Readers come in groups of k, one random Latin square per
group: arm(r, s, b) = (L[r][b] + s) mod k, so within a complete group each block is read under each arm in
each session exactly once. A partial group (or a reader added later) takes the next rows of its group's
square. Everything random comes from the study's seed, so the same inputs give the same design.
"""

import random
from dataclasses import dataclass

DESIGN_VERSION = "latin-square-1"


class DesignRefused(ValueError):
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


def plan(cases, arms, seed, reader_rows):
    """The planned reads of the design rows `reader_rows` (e.g. range(6)), in session and position order."""
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
        square = latin_square(k, row // k, seed)
        for session in range(1, k + 1):
            order = ordered_ids[:]
            random.Random(f"{seed}/order/{row}/{session}").shuffle(order)
            for position, case_id in enumerate(order, start=1):
                block = block_of[case_id]
                arm = arms[(square[row % k][block] + session - 1) % k]
                planned.append(PlannedRead(row, session, position, case_id, arm, block))
    return planned
