"""scripts/gpu_check.py, run as an operator runs it on a GPU host: here its CPU dry run and its answer on a host
without CUDA. DB-free; the tiny model is built once per test run (tests/conftest.py)."""

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.py"


def gpu_check(*args):
    # No GPU visible whatever the host has: the exit status must not depend on the machine.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_without_cuda_it_says_so_and_exits_2(tiny_model_dir):
    done = gpu_check("--model", str(tiny_model_dir))
    assert done.returncode == 2
    assert done.stdout.startswith("no CUDA device is available: nothing to check")


def test_the_cpu_dry_run_measures_each_batch_size_and_finds_the_batched_answers_equal(tiny_model_dir):
    done = gpu_check("--model", str(tiny_model_dir), "--device", "cpu", "--dtype", "float32", "--batch-sizes", "1,3")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"loaded .+ in \d+\.\d s: torch\.float32 on cpu \(.+\)", lines[0]), lines[0]
    rows = [line.split() for line in lines if re.match(r"\s+\d+ ", line)]
    assert [(row[0], row[3], row[4]) for row in rows] == [("1", "n/a", "1/1"), ("3", "n/a", "3/3")]
    assert all(float(row[1]) > 0 for row in rows)  # tokens/s
    assert lines[-1] == "all checks passed"
