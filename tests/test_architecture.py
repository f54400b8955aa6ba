"""The layers of ARCHITECTURE.md hold (import-linter, run by `make test`), and break when a module imports
upward; modules stay small; the repository's text points nowhere outside it."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("readerstudy", "inference", "tooling")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def production_modules():
    for package in ("readerstudy", "inference"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def lint_imports(tree):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree_copy(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


# Each probe and the contracts it breaks (an upward import into a layer that imports back is a cycle too).
PROBES = [
    ("readerstudy/reading/timing.py", "from readerstudy.analysis import schedule", {"Layers", "cycles"}),
    ("readerstudy/cases/ingest.py", "from readerstudy.studies import lifecycle", {"Layers", "cycles"}),
    ("readerstudy/core/scoring.py", "import inference.jobs", {"Layers"}),
    ("inference/runner.py", "from readerstudy.reading import reads", {"Layers"}),
    ("readerstudy/reading/progress.py", "from readerstudy.views import home", {"entry points", "cycles"}),
    ("inference/jobs.py", "from tooling.synthetic import cases", {"tooling"}),
    ("readerstudy/views/home.py", "import pandas", {"web process"}),
    ("readerstudy/studies/design.py", "from readerstudy.studies import enrolment", {"cycles"}),
]
CONTRACTS = {"Layers", "entry points", "tooling", "web process", "cycles"}


@pytest.mark.parametrize(("module", "probe", "contracts"), PROBES)
def test_an_import_against_the_architecture_breaks_its_contract(tree_copy, module, probe, contracts):
    """Inside a function too: import-linter counts every import statement."""
    path = tree_copy / module
    path.write_text(path.read_text() + f"\n\ndef _probe():\n    {probe}\n")
    result = lint_imports(tree_copy)
    broken = {
        name for name in CONTRACTS for line in result.stdout.splitlines() if line.endswith(" BROKEN") and name in line
    }
    assert (result.returncode, broken) == (1, contracts), result.stdout


def test_the_repository_as_it_is_keeps_every_contract(tree_copy):
    result = lint_imports(tree_copy)
    assert (result.returncode, result.stdout.count(" KEPT"), result.stdout.count(" BROKEN")) == (0, 5, 0), result.stdout


def test_no_production_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in production_modules() if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def test_the_repository_points_to_no_issue_and_no_file_outside_it():
    outside = re.compile(r"DESIGN\.md|\.\./shared|shared/data|\b(?:the|this|an?) [\w-]+ issue\b|\(\w+ issue\)")
    found = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {".venv", "node_modules", ".git", "var"} or "dist" in relative.parts:
            continue
        if path == Path(__file__):  # the pattern above
            continue
        if path.suffix in {".py", ".md", ".html", ".js", ".mjs", ".toml", ".yml", ".sh", ".css"} and path.is_file():
            found += [
                f"{relative}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1) if outside.search(line)
            ]
    assert found == []
