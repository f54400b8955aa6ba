"""The model card's prompts as the runner hands them to an engine, each marked with what its answer is for."""

from inference.engines.base import DEFAULT_PROMPT, DIFFERENTIALS_PROMPT, REPORT_PROMPT, Prompt, TurnKind

FINDINGS = Prompt(DEFAULT_PROMPT, TurnKind.FINDINGS)
REPORT = Prompt(REPORT_PROMPT, TurnKind.REPORT)
DIFFERENTIALS = Prompt(DIFFERENTIALS_PROMPT, TurnKind.FOLLOW_UP)
