"""The one base of the platform's refusals: something a user asked for cannot be done, for reasons the user
can act on, and nothing was written.

A refusal carries every problem found (`problems`, one message each: a line of a CSV, a file, a field), so a
page lists them, a command prints them and exits 1, and the reading API answers `status` with them. The
subclasses name where a refusal comes from; none adds behaviour of its own but the API's field errors.

Not refusals, and so not here: an engine's failures (inference.engines.base: a job records them), a statistic
that cannot be estimated (analysis.orh.NotEstimable), a lost lease (core.leases.LeaseLost), and
models.protocol.ProtocolFrozen, which is Django's ValidationError so that the admin's forms show it.
"""


class Refused(Exception):
    status = 400  # what the reading API answers; subclasses and callers choose another where it fits

    def __init__(self, problems, status=None):
        self.problems = [problems] if isinstance(problems, str) else [str(problem) for problem in problems]
        super().__init__(self.message)
        if status is not None:
            self.status = status

    @property
    def message(self):
        return "; ".join(self.problems)
