"""A study's whole analysis: the result as JSON-ready data, its figures, and the self-contained HTML report.

The report states where its numbers come from: the software versions, a SHA-256 of the data, the date, and
whether any read or AI output was simulated.
"""

import base64
import hashlib
import json
import math
import platform
from dataclasses import dataclass

import django
import matplotlib
import numpy
import pandas
import scipy
import statsmodels
from django.template.loader import render_to_string
from django.utils import timezone

from .accuracy import ai_accuracy, readers_accuracy
from .dataset import CASE_TYPES
from .error_audit import error_audit_section
from .mrmc import mrmc_section
from .per_reader import per_reader_section
from .plots import draw_all
from .ratings import ratings_section
from .reading_time import time_section
from .sequential import sequential_section

# Raise when a change to this package changes results, so cached analyses are recomputed.
ANALYSIS_VERSION = "5"


def software_versions():
    return {
        "analysis": ANALYSIS_VERSION,
        "python": platform.python_version(),
        "django": django.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "matplotlib": matplotlib.__version__,
    }


def cache_key(data_hash):
    """Same data and same software: the same analysis."""
    return hashlib.sha256(json.dumps([data_hash, software_versions()]).encode()).hexdigest()


@dataclass
class Analysis:
    result: dict
    plots: list
    html: str


def analyse(data):
    study = data.study
    result = {
        "study": {
            "id": study.pk,
            "title": study.title,
            "status": study.status,
            "arms": data.arms,
            "is_dry_run": study.is_dry_run,
            "design_version": study.design_version,
        },
        "provenance": {
            "computed_at": timezone.now().isoformat(),
            "data_hash": data.data_hash,
            "software": software_versions(),
            "scoring": {"blank_truth": study.blank_truth, "no_finding": "derived"},
            "simulated": {
                "reads": data.simulated_reads,
                "ai_outputs": data.simulated_outputs,
                "any": bool(data.simulated_reads or data.simulated_outputs),
            },
        },
        # Templates walk these lists, never a stored dict's keys (jsonb orders keys its own way).
        "case_types": list(CASE_TYPES),
        "reads": {
            "submitted": data.submitted,
            "analysed": len(data.reads),
            "excluded": data.excluded,
            "readers": int(data.reads["reader"].nunique()),
            "cases": int(data.reads["case"].nunique()),
        },
        "mrmc": mrmc_section(data),
        "time": time_section(data),
        "ratings": ratings_section(data),
        "accuracy": readers_accuracy(data),
        "ai": ai_accuracy(data),
        "error_audit": error_audit_section(data),
        "per_reader": per_reader_section(data),
    }
    if study.sequential_reading:  # the second-read design's own section; absent otherwise
        result["sequential"] = sequential_section(data)
    plots = draw_all(data, result)
    result["plots"] = [{"name": plot.name, "title": plot.title} for plot in plots]
    result = json_ready(result)
    embedded = {
        plot.name: {
            "name": plot.name,
            "title": plot.title,
            "src": "data:image/svg+xml;base64," + base64.b64encode(plot.svg.encode()).decode(),
        }
        for plot in plots
    }
    html = render_to_string("studies/analysis_report.html", {"analysis": result, "plots": embedded})
    return Analysis(result, plots, html)


def json_ready(value):
    """Plain JSON types; NaN and infinities (which PostgreSQL's jsonb refuses) become None."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
