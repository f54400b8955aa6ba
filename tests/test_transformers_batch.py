"""Batched generation in the transformers engine, on the tiny Qwen2.5-VL: several cases per generate call give
each case exactly what it gets alone, and one case's failure stays that case's.

DB-free. The model is built once per test run (tests/conftest.py).
"""

import pytest
import torch
from PIL import Image

from inference.engines.base import BatchItem, GenerationParams, PermanentEngineError, TransientEngineError
from tests.prompts import FINDINGS, REPORT
from tests.test_transformers_engine import make_engine
from tooling.tiny_model import synthetic_radiograph

GREEDY = GenerationParams()
# Different sizes, so different numbers of image tokens: the prompts are padded to one width.
SIZES = [(520, 600), (256, 320), (400, 300), (300, 500)]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return make_engine(tiny_model_dir)


@pytest.fixture(scope="module")
def radiographs():
    kinds = ["normal", "effusion", "normal", "pneumothorax"]
    return [synthetic_radiograph(kind, size=size, seed=i) for i, (kind, size) in enumerate(zip(kinds, SIZES))]


def summary(result):
    return [(turn.prompt, turn.text, turn.tokens_in, turn.tokens_out, turn.hit_token_limit) for turn in result.turns]


@pytest.fixture(scope="module")
def alone(engine, radiographs):
    return [summary(engine.converse(image, [FINDINGS, REPORT], GREEDY)) for image in radiographs]


def test_a_batch_of_four_cases_of_different_sizes_gives_each_its_single_case_output(engine, radiographs, alone):
    results = engine.converse_batch([BatchItem(image) for image in radiographs], [FINDINGS, REPORT], GREEDY)
    assert [summary(result) for result in results] == alone
    # The cases differ in prompt length and in answer length: padding on both sides was cut off.
    assert len({turns[0][2] for turns in alone}) == 4
    assert len({turns[0][3] for turns in alone}) > 1
    assert {turn.batch_size for result in results for turn in result.turns} == {4}


def test_a_batch_of_one_is_the_single_case_conversation(engine, radiographs, alone):
    [result] = engine.converse_batch([BatchItem(radiographs[1])], [FINDINGS, REPORT], GREEDY)
    assert summary(result) == alone[1]
    assert {turn.batch_size for turn in result.turns} == {1}


def test_the_token_limit_is_reported_for_each_case_of_a_batch(engine, radiographs):
    results = engine.converse_batch([BatchItem(image) for image in radiographs], [FINDINGS], GenerationParams(8))
    assert [(r.turns[0].tokens_out, r.turns[0].hit_token_limit) for r in results] == [(8, True)] * 4


def test_an_image_the_processor_refuses_fails_its_case_only(engine, radiographs, alone):
    too_elongated = Image.new("RGB", (6000, 20))  # Qwen2.5-VL refuses aspect ratios beyond 200:1
    items = [BatchItem(radiographs[0]), BatchItem(too_elongated), BatchItem(radiographs[2])]
    first, refused, third = engine.converse_batch(items, [FINDINGS, REPORT], GREEDY)
    assert isinstance(refused, PermanentEngineError) and "cannot be prepared" in str(refused)
    assert [summary(first), summary(third)] == [alone[0], alone[2]]


def test_a_batch_out_of_gpu_memory_runs_its_cases_one_at_a_time(engine, radiographs, alone, monkeypatch):
    generate = engine.model.generate
    calls = []

    def out_of_memory_beyond_one_case(**inputs):
        calls.append(inputs["input_ids"].shape[0])
        if inputs["input_ids"].shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return generate(**inputs)

    monkeypatch.setattr(engine.model, "generate", out_of_memory_beyond_one_case)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    results = engine.converse_batch([BatchItem(image) for image in radiographs[:2]], [FINDINGS], GREEDY)
    assert calls == [2, 1, 1]
    assert [summary(result) for result in results] == [alone[0][:1], alone[1][:1]]


def test_a_case_out_of_memory_on_its_own_is_a_transient_error_in_its_place(engine, radiographs, monkeypatch):
    def out_of_memory(**inputs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(engine.model, "generate", out_of_memory)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    results = engine.converse_batch([BatchItem(image) for image in radiographs[:2]], [FINDINGS], GREEDY)
    assert [type(result) for result in results] == [TransientEngineError, TransientEngineError]
    assert all("out of GPU memory" in str(result) for result in results)


def test_keep_alive_runs_between_the_turns_of_a_batch(engine, radiographs):
    calls = []
    engine.converse_batch(
        [BatchItem(image) for image in radiographs[:2]], [FINDINGS, REPORT], GREEDY, keep_alive=lambda: calls.append(1)
    )
    assert calls == [1]
