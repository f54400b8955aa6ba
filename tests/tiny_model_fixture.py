"""The tiny Qwen2.5-VL (inference/tiny_model.py), built once per test run for every module that uses it.

A module uses it with `from tests.tiny_model_fixture import tiny_model_dir  # noqa: F401`. pytest registers
an imported fixture once per importing module, so the build itself is cached here, not by the fixture scope.
"""

import functools

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return _build(tmp_path_factory.getbasetemp())


@functools.cache
def _build(base_temp):
    from inference.tiny_model import make_tiny_model  # imports torch: only for the tests that ask

    out = base_temp / "tiny-model"
    make_tiny_model(out)
    return out
