"""One base for refusals (core.errors.Refused): every exception type the platform defines is a refusal, or is
named here with the reason it is not, so that a new one forces the decision."""

import importlib
import inspect

import pytest

from readerstudy.cases.ingest import IngestRefused
from readerstudy.core.errors import Refused
from readerstudy.reading.access import OutOfOrder, ReadingRefused
from readerstudy.reading.reads import ReportInvalid
from tests.factories import AssignmentFactory
from tests.test_architecture import ROOT, production_modules

NOT_REFUSALS = {
    "inference.engines.base.EngineError",  # the two below: what an engine's conversation may raise
    "inference.engines.base.TransientEngineError",  # a job's failure, retried later
    "inference.engines.base.PermanentEngineError",  # a job's failure, recorded on the job
    "inference.runner.ImageUnusable",  # the same
    "readerstudy.core.leases.LeaseLost",  # a worker stops; nobody asked for anything
    "readerstudy.analysis.orh.NotEstimable",  # a statistic the data cannot give: shown as such
    "readerstudy.models.protocol.ProtocolFrozen",  # Django's ValidationError, for the admin's forms
}


def defined_exceptions():
    for path in production_modules():
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException):
                yield f"{name}.{cls.__qualname__}", cls


def test_every_exception_the_platform_defines_is_a_refusal_or_named_as_not_one():
    found = dict(defined_exceptions())
    assert {name for name, cls in found.items() if not issubclass(cls, Refused)} == NOT_REFUSALS
    refusals = {name for name, cls in found.items() if issubclass(cls, Refused)}
    assert len(refusals) == 16 and "readerstudy.cases.ingest.IngestRefused" in refusals


def test_a_refusal_carries_every_problem_and_the_status_the_api_answers():
    refused = IngestRefused(["line 2: no case_id", "line 3: unknown label"])
    assert (refused.problems, refused.message, str(refused)) == (
        ["line 2: no case_id", "line 3: unknown label"],
        "line 2: no case_id; line 3: unknown label",
        "line 2: no case_id; line 3: unknown label",
    )
    assert (refused.status, ReadingRefused("Not now.").status, ReadingRefused("Gone.", status=404).status) == (
        400,
        409,
        404,
    )
    invalid = ReportInvalid({"findings": "Choose one.", "ratings.confidence": "Answer this question."})
    assert (invalid.status, invalid.problems) == (
        400,
        ["findings: Choose one.", "ratings.confidence: Answer this question."],
    )


@pytest.mark.django_db
def test_out_of_order_is_a_reading_refusal_naming_the_case_to_read_first():
    expected = AssignmentFactory(position=3)
    refused = OutOfOrder(expected)
    assert isinstance(refused, ReadingRefused) and refused.status == 409 and refused.expected == expected
    assert refused.problems == ["Cases are read in the order of your session: read case 3 first."]
