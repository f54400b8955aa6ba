"""The generative model of a simulated reader study, pure (no database): simulate_reads submits its reads
through the reading services, and analysis_coverage analyses them in memory, so both rehearse the same study.

Every number comes from the seed and the names of what it concerns (a reader, a case, a read), never from
the order reads are drawn in, so the same study gives the same reads however it is filled.

Reading time, on the log scale:
    log(base) + reader + case + reader×arm + case×arm + log(arm multiplier)
    + log(abnormal multiplier of the arm, on abnormal cases) + log(carry-over multiplier of the previous arm)
    + (session − 1)·log(learning) + noise
with the random effects normal with the given SDs.

Findings, against the truth as the study scores it: unaided, each positive finding is missed with
`miss_rate` and a read adds one false label with `false_rate`. In an AI arm, where the AI is right the reader
errs less (`ai_help`: the share of those rates removed), and each AI error shown is followed with
`automation_bias` (a missed label left out, a false label ticked); a reader who does not follow decides as
unaided. Each AI error shown is flagged with the arm's `flag_rate`.

Ratings: a latent normal score (reader SD 0.5, case SD 0.5, the arm's shift from `rating_effects`, noise SD 1)
cut at the normal quantiles that make the unshifted scale uniform; the probability of abnormality follows
the read's own call (a logistic of ±1.5 plus noise).
"""

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

from readerstudy.core.labels import NO_FINDING, NORMAL_LABEL_SLUGS
from readerstudy.core.scoring import NEGATIVE, POSITIVE
from readerstudy.models import AI_ARMS

RATING_READER_SD = RATING_CASE_SD = 0.5


@dataclass
class Effects:
    base_active_s: float = 60.0
    arm_multipliers: dict = field(default_factory=lambda: {"UNAIDED": 1.0, "LABELS_ONLY": 0.9, "FULL_REASONING": 0.75})
    abnormal_multipliers: dict = field(default_factory=dict)  # arm -> extra multiplier on abnormal cases
    reader_sd: float = 0.25
    case_sd: float = 0.3
    reader_arm_sd: float = 0.0
    case_arm_sd: float = 0.0
    noise_sd: float = 0.2
    carryover: dict = field(default_factory=dict)  # previous arm -> multiplier on the next read of the case
    learning: float = 1.0  # multiplier per session after the first
    rating_effects: dict = field(default_factory=dict)  # question key -> {arm: shift on the latent scale}
    miss_rate: float = 0.08
    false_rate: float = 0.08
    ai_help: dict = field(default_factory=dict)  # arm -> share of the error rates removed where the AI is right
    automation_bias: dict = field(default_factory=dict)  # arm -> chance of following each AI error shown
    flag_rate: dict = field(default_factory=lambda: {"LABELS_ONLY": 0.6, "FULL_REASONING": 0.6})


@dataclass(frozen=True)
class Read:
    """One read to simulate: who, which case, under which arm, in which session, after which arm."""

    reader: str
    case: str
    arm: str
    session: int
    previous_arm: str | None
    abnormal: bool


@dataclass(frozen=True)
class Question:
    key: str
    scale_min: int
    scale_max: int


class StudyModel:
    def __init__(self, effects, seed):
        self.effects, self.seed = effects, seed
        self._effects = {}  # a reader's or a case's random effect, drawn once

    def rng(self, *purpose):
        return random.Random(":".join(map(str, (self.seed, *purpose))))

    def _normal(self, sd, *purpose):
        return self.rng(*purpose).gauss(0, sd) if sd else 0.0

    def _effect(self, sd, *purpose):
        if purpose not in self._effects:
            self._effects[purpose] = self._normal(sd, *purpose)
        return self._effects[purpose]

    def log_seconds(self, read):
        e = self.effects
        log_s = (
            math.log(e.base_active_s)
            + self._effect(e.reader_sd, "reader", read.reader)
            + self._effect(e.case_sd, "case", read.case)
            + self._effect(e.reader_arm_sd, "reader-arm", read.reader, read.arm)
            + self._effect(e.case_arm_sd, "case-arm", read.case, read.arm)
            + math.log(e.arm_multipliers.get(read.arm, 1.0))
            + (math.log(e.abnormal_multipliers.get(read.arm, 1.0)) if read.abnormal else 0.0)
            + (math.log(e.carryover.get(read.previous_arm, 1.0)) if read.previous_arm else 0.0)
            + (read.session - 1) * math.log(e.learning)
        )
        return log_s + self._normal(e.noise_sd, "noise", read.reader, read.case, read.arm)

    def active_ms(self, read):
        return round(math.exp(self.log_seconds(read)) * 1000)

    def findings(self, read, truth, ai_labels=None, draws_key=None):
        """The labels the reader ticks. truth: {slug: positive | negative | …} as scored; ai_labels: what the
        AI shown in this arm predicted (None when nothing is shown). draws_key names the random draws (by
        default the read's reader, case and arm); the same key gives every arm the same draws."""
        e = self.effects
        rng = self.rng("findings", *(draws_key or (read.reader, read.case, read.arm)))
        shown = ai_labels is not None and read.arm in AI_ARMS
        help_ = e.ai_help.get(read.arm, 0.0) if shown else 0.0
        follow = e.automation_bias.get(read.arm, 0.0) if shown else 0.0
        positive = sorted(slug for slug, value in truth.items() if value == POSITIVE and slug != NO_FINDING)
        negative = sorted(slug for slug, value in truth.items() if value == NEGATIVE and slug != NO_FINDING)
        # The same draws whatever the AI said, so its output changes a read only through the effects given.
        draws = {slug: (rng.random(), rng.random()) for slug in positive + negative}
        ticked = set()
        for slug in positive:
            follow_draw, miss_draw = draws[slug]
            ai_missed = shown and slug not in ai_labels
            if ai_missed and follow_draw < follow:
                continue
            if miss_draw >= e.miss_rate * (1 if not shown or ai_missed else 1 - help_):
                ticked.add(slug)
        ticked |= {slug for slug in negative if shown and slug in ai_labels and draws[slug][0] < follow}
        false_draw, pick = rng.random(), rng.random()
        if negative and false_draw < e.false_rate * (1 - help_):
            ticked.add(negative[int(pick * len(negative))])
        # A reader who sees nothing but devices ticks No Finding too, as the form invites.
        return ticked if ticked - NORMAL_LABEL_SLUGS else ticked | {NO_FINDING}

    def ratings(self, read, questions, findings, abnormality_key):
        ratings = {}
        for question in questions:
            rng = self.rng("rating", question.key, read.reader, read.case, read.arm)
            if question.key == abnormality_key:
                latent = (1.5 if set(findings) - NORMAL_LABEL_SLUGS else -1.5) + rng.gauss(0, 1)
                ratings[question.key] = round(100 / (1 + math.exp(-latent)))
                continue
            latent = (
                self._effect(RATING_READER_SD, "rating-reader", question.key, read.reader)
                + self._effect(RATING_CASE_SD, "rating-case", question.key, read.case)
                + self.effects.rating_effects.get(question.key, {}).get(read.arm, 0.0)
                + rng.gauss(0, 1)
            )
            ratings[question.key] = _on_scale(latent, question.scale_min, question.scale_max)
        return ratings

    def flagged(self, read, errors):
        """Which of the AI errors shown the reader flags."""
        rate = self.effects.flag_rate.get(read.arm, 0.0)
        return [error for error in errors if self.rng("flag", read.reader, read.case, read.arm, error).random() < rate]


def _on_scale(latent, low, high):
    """Cut the latent score at the quantiles that make an unshifted score uniform over low..high."""
    points = high - low + 1
    spread = math.sqrt(1 + RATING_READER_SD**2 + RATING_CASE_SD**2)
    cuts = [NormalDist(0, spread).inv_cdf(k / points) for k in range(1, points)]
    return low + sum(latent > cut for cut in cuts)
