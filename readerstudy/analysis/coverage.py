"""Do the analysis's intervals mean what they say? Simulated studies, analysed in memory (no database).

Each study: `cases` cases (abnormal with probability ABNORMAL_SHARE, with one or two positive findings), an
AI output per case (one error, a missed or a false label, with probability AI_ERROR_RATE), `readers` readers
in the williams-1 design, their reads from the study model (reading/simulation_model.py), and ORH on time
and Jaccard through the analysis's own function (mrmc.analyse_endpoint). For each comparison of two arms:
- coverage: how often the 95% CI holds the true effect, with the effects given;
- rejection: how often p < 0.05 in a second pass with no arm effect (arm and abnormal-case multipliers 1, no
  AI help and no automation bias; every other effect as given), where the true effect is zero.
True effects: for time, log of the ratio of arm multipliers plus ABNORMAL_SHARE × log of the ratio of
abnormal-case multipliers (carry-over is not an arm effect: when it is put in, coverage shows what it does to
the comparison); for Jaccard, each arm's expected Jaccard under the model, from a population of
POPULATION_READS simulated reads per arm with the same random draws in every arm.
"""

import math
import random
from dataclasses import dataclass, replace

import pandas as pd

from readerstudy.core.labels import CHEXPERT_LABELS, NORMAL_LABEL_SLUGS
from readerstudy.core.scoring import NEGATIVE, POSITIVE, resolve_truth, score_case
from readerstudy.models import AI_ARMS, Arm
from readerstudy.reading.simulation_model import Read, StudyModel
from readerstudy.studies.design import WILLIAMS, DesignCase, plan

from .mrmc import JACCARD, TIME, analyse_endpoint, later_against_earlier

ABNORMAL_SHARE = 0.55
AI_ERROR_RATE = 0.3
POPULATION_READS = 20_000
ARMS = list(Arm.values)
FINDINGS = [slug for slug, _ in CHEXPERT_LABELS if slug not in NORMAL_LABEL_SLUGS]
ENDPOINTS = (TIME, JACCARD)


@dataclass(frozen=True)
class SimulatedCase:
    name: str
    abnormal: bool
    truth: dict  # resolved: every label positive or negative, No Finding derived
    ai_labels: frozenset


def make_case(rng, name):
    abnormal = rng.random() < ABNORMAL_SHARE
    positive = set(rng.sample(FINDINGS, rng.choice((1, 2)))) if abnormal else set()
    truth = resolve_truth(
        {slug: POSITIVE if slug in positive else NEGATIVE for slug, _ in CHEXPERT_LABELS}, blank=NEGATIVE
    )
    ai = set(positive)
    if rng.random() < AI_ERROR_RATE:
        if ai and rng.random() < 0.5:
            ai.remove(rng.choice(sorted(ai)))
        else:
            ai.add(rng.choice([slug for slug in FINDINGS if slug not in positive]))
    return SimulatedCase(name, abnormal, truth, frozenset(ai if ai - NORMAL_LABEL_SLUGS else ai | {"no-finding"}))


def simulate_study(effects, seed, readers, cases, arms=ARMS):
    """One study's analysed reads as the analysis frame (reader, case, case type, arm, log time, Jaccard)."""
    rng = random.Random(f"{seed}:cases")
    study_cases = [make_case(rng, f"c{k:03d}") for k in range(cases)]
    model = StudyModel(effects, seed)
    planned = plan(
        [DesignCase(k, case.abnormal) for k, case in enumerate(study_cases)], arms, seed, range(readers), WILLIAMS
    )
    arm_in = {(read.reader_row, read.case_id, read.session): read.arm for read in planned}
    rows = []
    for read in planned:
        case = study_cases[read.case_id]
        simulated = Read(
            reader=f"R{read.reader_row + 1:02d}",
            case=case.name,
            arm=read.arm,
            session=read.session,
            previous_arm=arm_in.get((read.reader_row, read.case_id, read.session - 1)),
            abnormal=case.abnormal,
        )
        findings = model.findings(simulated, case.truth, case.ai_labels if read.arm in AI_ARMS else None)
        rows.append(
            {
                "reader": simulated.reader,
                "case": case.name,
                "case_id": read.case_id,
                "case_type": "abnormal" if case.abnormal else "normal",
                "arm": read.arm,
                "log_active_s": model.log_seconds(simulated),
                "jaccard": score_case(findings, case.truth, blank=NEGATIVE).jaccard,
            }
        )
    return pd.DataFrame(rows)


def true_effects(effects, seed, arms=ARMS, population=POPULATION_READS):
    """{endpoint key: {arm: the arm's true value}}: log time up to a constant, and expected Jaccard."""
    time = {
        arm: math.log(effects.arm_multipliers.get(arm, 1.0))
        + ABNORMAL_SHARE * math.log(effects.abnormal_multipliers.get(arm, 1.0))
        for arm in arms
    }
    rng, model = random.Random(f"{seed}:population"), StudyModel(effects, f"{seed}:population")
    jaccard = {arm: 0.0 for arm in arms}
    for n in range(population):
        case = make_case(rng, f"p{n}")
        for arm in arms:
            read = Read(reader=f"p{n}", case=case.name, arm=arm, session=1, previous_arm=None, abnormal=case.abnormal)
            # The same draws in every arm: arms differ only by their effects, so equal arms come out equal.
            findings = model.findings(read, case.truth, case.ai_labels if arm in AI_ARMS else None, (case.name,))
            jaccard[arm] += score_case(findings, case.truth, blank=NEGATIVE).jaccard / population
    return {"time": time, "jaccard": jaccard}


def without_arm_effects(effects):
    return replace(effects, arm_multipliers={}, abnormal_multipliers={}, ai_help={}, automation_bias={})


@dataclass
class Tally:
    endpoint: str
    arm: str
    versus: str
    truth: float
    studies: int = 0
    covered: int = 0
    null_studies: int = 0
    rejected: int = 0
    not_estimable: int = 0

    @property
    def coverage(self):
        return self.covered / self.studies if self.studies else None

    @property
    def rejection(self):
        return self.rejected / self.null_studies if self.null_studies else None


def monte_carlo_se(rate, n):
    return math.sqrt(rate * (1 - rate) / n) if n and rate is not None else None


def run(effects, studies, readers, cases, seed=1, arms=ARMS, population=POPULATION_READS, progress=None):
    """Coverage with `effects` and rejection with no arm effect, per endpoint and comparison: [Tally]."""
    truth = true_effects(effects, seed, arms, population)
    tallies = {
        (spec["key"], arm, versus): Tally(
            spec["key"], arm, versus, truth[spec["key"]][arm] - truth[spec["key"]][versus]
        )
        for spec in ENDPOINTS
        for arm, versus in later_against_earlier(arms)
    }
    null = without_arm_effects(effects)
    for study in range(studies):
        for given, frame in (
            (True, simulate_study(effects, f"{seed}:{study}", readers, cases, arms)),
            (False, simulate_study(null, f"{seed}:null:{study}", readers, cases, arms)),
        ):
            for spec in ENDPOINTS:
                _count(tallies, spec, frame, arms, given)
        if progress:
            progress(study + 1)
    return list(tallies.values())


def _count(tallies, spec, frame, arms, given):
    result = analyse_endpoint(frame, {**spec, "arms": arms}, arms)
    for pair in result.get("pairs", []):
        tally = tallies[(spec["key"], pair["arm"], pair["versus"])]
        if given:
            tally.studies += 1
            tally.covered += pair["ci_low"] <= tally.truth <= pair["ci_high"]
        else:
            tally.null_studies += 1
            tally.rejected += pair["p"] < 0.05
    if not result["estimable"]:
        for arm, versus in later_against_earlier(arms):
            tallies[(spec["key"], arm, versus)].not_estimable += 1
