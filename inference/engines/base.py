"""The one interface every engine implements: an image and a conversation in, text and counts out."""

from dataclasses import dataclass, field

DEFAULT_PROMPT = "Find abnormalities and support devices."
REPORT_PROMPT = "Write a structured report"
DIFFERENTIALS_PROMPT = "Provide differentials"


class TurnKind:
    """What a turn's answer is for; stored on the turn when it is generated, so that a prompt's wording may
    change without the platform losing track of which answer is which."""

    FINDINGS = "findings"  # the first turn, with the image: the reasoning and the labels
    REPORT = "report"  # the structured report the full-reasoning arm shows
    FOLLOW_UP = "follow_up"  # any other follow-up (differentials, say)


@dataclass(frozen=True)
class Prompt:
    text: str
    kind: str = TurnKind.FOLLOW_UP


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 2048
    # Greedy decoding, as the model card does: every reader sees one reproducible output per case.
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    # Benchmarks pin the output length; None lets the model stop at its end-of-turn token.
    min_new_tokens: int | None = None

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class CaseContext:
    """What an engine may know about the case besides the image (only the simulated engine uses it)."""

    public_id: str
    truth: dict  # label slug -> "positive" | "negative" | "uncertain" | "unknown"


@dataclass(frozen=True)
class BatchItem:
    """One case of a batch: its image as the model takes it, and what the simulated engine may know of it."""

    image: object
    case: CaseContext | None = None


@dataclass
class TurnResult:
    prompt: Prompt
    text: str  # raw decoded text of the new tokens, stored unchanged
    tokens_in: int
    tokens_out: int
    seconds: float
    # True when generation stopped at max_new_tokens rather than at the end-of-turn token.
    hit_token_limit: bool = False
    # How many cases were generated together with this one; `seconds` is the whole batch's time.
    batch_size: int = 1


@dataclass
class ConversationResult:
    turns: list[TurnResult]
    # Simulated engine only: the errors it put into its output on purpose, e.g.
    # {"kind": "missed_finding", "label": "pneumothorax"}; {"kind": "false_finding", "label": "edema"};
    # {"kind": "wrong_side", "label": "pleural-effusion", "stated": "left", "true": "right"}.
    deliberate_errors: list[dict] = field(default_factory=list)


class EngineError(Exception):
    """A case's conversation could not be had; the subclass says whether trying again may help."""


class TransientEngineError(EngineError):
    """Worth retrying later: CUDA out of memory, a server's 5xx, a timeout."""


class PermanentEngineError(EngineError):
    """Will fail the same way again: a bad request, an image the model cannot take."""


class Engine:
    """An engine is created once per worker process; load() runs once, converse() once per case.

    converse() asks `prompts` in one conversation: the image goes with the first prompt only, and each
    later prompt sees the earlier turns' answers (as the model's own demo does for follow-ups). Between two
    turns it calls `keep_alive` (through each_turn), where the runner renews the job's lease.
    """

    name = "base"
    is_simulated = False

    def __init__(self, model_id: str, revision: str = "", **options):
        self.model_id = model_id
        self.revision = revision
        self.options = options

    def load(self) -> float:
        """Load weights or open connections; returns the seconds it took."""
        return 0.0

    def converse(
        self,
        image,
        prompts: list[Prompt],
        params: GenerationParams,
        case: CaseContext | None = None,
        keep_alive=None,
    ) -> ConversationResult:
        raise NotImplementedError

    def converse_batch(self, items, prompts, params, keep_alive=None) -> list:
        """`prompts` asked of each item's image: one ConversationResult per item, in order, or the EngineError
        its conversation raised, so that one case's failure is that case's alone. An engine that generates
        several conversations at once overrides this; here they run one after the other."""
        results = []
        for index, item in enumerate(items):
            if index and keep_alive is not None:
                keep_alive()
            try:
                results.append(self.converse(item.image, prompts, params, case=item.case, keep_alive=keep_alive))
            except EngineError as error:
                results.append(error)
        return results

    def software_versions(self) -> dict:
        return {}


def each_turn(prompts, keep_alive=None):
    """(index, prompt) in order, calling `keep_alive()` before every turn after the first."""
    for index, prompt in enumerate(prompts):
        if index and keep_alive is not None:
            keep_alive()
        yield index, prompt
