"""The transformers engine, run on the tiny Qwen2.5-VL through exactly the code that runs the real model.

DB-free. The model is built once per test run (tests/conftest.py).
"""

import re

import numpy as np
import pytest
import torch
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from inference.engines.base import (
    GenerationParams,
    PermanentEngineError,
    TransientEngineError,
)
from inference.engines.transformers_engine import TransformersEngine
from inference.preprocess import dicom_to_model_image
from tests.prompts import FINDINGS, REPORT
from tooling.tiny_model import synthetic_radiograph

GREEDY = GenerationParams()
# NV-Reason-CXR-3B's shape: <think> paragraphs </think> then <answer> labels </answer>.
TRACE = re.compile(r"<think>.+</think>\s*<answer>.+</answer>", re.S)


def make_engine(model_dir, **options):
    options = {"device": "cpu", "dtype": "float32", "local_files_only": True, "torch_threads": 2, **options}
    engine = TransformersEngine(str(model_dir), **options)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return make_engine(tiny_model_dir)


@pytest.fixture(scope="module")
def radiograph():
    return synthetic_radiograph("normal", size=(520, 600), seed=7)


def test_the_first_turn_is_a_reasoning_trace_with_an_answer(engine, radiograph):
    [turn] = engine.converse(radiograph, [FINDINGS], GREEDY).turns
    assert TRACE.search(turn.text), turn.text
    assert turn.prompt == FINDINGS
    assert turn.tokens_in > 0 and turn.tokens_out > 0
    assert turn.seconds > 0
    assert not turn.hit_token_limit


def test_decoding_drops_the_chat_s_special_tokens(engine, radiograph):
    [turn] = engine.converse(radiograph, [FINDINGS], GREEDY).turns
    assert "<|" not in turn.text


def test_greedy_decoding_is_reproducible(engine, radiograph):
    first = engine.converse(radiograph, [FINDINGS], GREEDY).turns[0].text
    assert engine.converse(radiograph, [FINDINGS], GREEDY).turns[0].text == first


def test_a_follow_up_continues_the_same_conversation(engine, radiograph):
    findings, report = engine.converse(radiograph, [FINDINGS, REPORT], GREEDY).turns
    assert report.prompt == REPORT
    # The follow-up's input holds the image, the first question, the first answer and the new question.
    assert report.tokens_in > findings.tokens_in + findings.tokens_out
    assert report.tokens_out > 0
    assert "IMPRESSION" in report.text, report.text


def test_the_token_limit_is_reported(engine, radiograph):
    [turn] = engine.converse(radiograph, [FINDINGS], GenerationParams(max_new_tokens=5)).turns
    assert turn.tokens_out == 5
    assert turn.hit_token_limit


def test_min_new_tokens_holds_off_the_end_of_turn(engine, radiograph):
    natural = engine.converse(radiograph, [FINDINGS], GREEDY).turns[0].tokens_out
    params = GenerationParams(max_new_tokens=natural + 10, min_new_tokens=natural + 10)
    assert engine.converse(radiograph, [FINDINGS], params).turns[0].tokens_out == natural + 10


def test_a_smaller_pixel_budget_means_fewer_input_tokens(tiny_model_dir, engine, radiograph):
    small = make_engine(tiny_model_dir, max_pixels=224 * 224)
    small_turn = small.converse(radiograph, [FINDINGS], GenerationParams(max_new_tokens=1)).turns[0]
    full_turn = engine.converse(radiograph, [FINDINGS], GenerationParams(max_new_tokens=1)).turns[0]
    assert small_turn.tokens_in < full_turn.tokens_in


def test_a_preprocessed_dicom_gets_a_trace(engine):
    """Whatever greyscale image a test puts in a DICOM file, the tiny model still answers in the format."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.set_pixel_data(np.linspace(0, 4095, 700 * 600).reshape(700, 600).astype(np.uint16), "MONOCHROME2", 12)
    [turn] = engine.converse(dicom_to_model_image(dataset), [FINDINGS], GREEDY).turns
    assert TRACE.search(turn.text), turn.text


def test_bfloat16_runs_on_a_cpu(tiny_model_dir, radiograph):
    engine = make_engine(tiny_model_dir, dtype="bfloat16")
    assert engine.model.dtype == torch.bfloat16
    assert engine.converse(radiograph, [FINDINGS], GREEDY).turns[0].tokens_out > 0


def test_an_image_the_processor_cannot_take_is_a_permanent_error(engine):
    too_elongated = Image.new("RGB", (6000, 20))  # Qwen2.5-VL refuses aspect ratios beyond 200:1
    with pytest.raises(PermanentEngineError, match="cannot be prepared"):
        engine.converse(too_elongated, [FINDINGS], GREEDY)


def test_running_out_of_gpu_memory_is_worth_retrying(engine, radiograph, monkeypatch):
    def out_of_memory(**inputs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(engine.model, "generate", out_of_memory)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    with pytest.raises(TransientEngineError, match="out of GPU memory"):
        engine.converse(radiograph, [FINDINGS], GREEDY)


def test_a_model_that_is_not_there_is_a_permanent_error(tmp_path):
    engine = TransformersEngine(str(tmp_path / "missing"), device="cpu", dtype="float32", local_files_only=True)
    with pytest.raises(PermanentEngineError, match="cannot load"):
        engine.load()


@pytest.mark.parametrize("option", [{"dtype": "int8"}, {"device": "tpu"}])
def test_unknown_dtypes_and_devices_are_refused(option):
    with pytest.raises(PermanentEngineError, match="unknown"):
        TransformersEngine("any", **option)


def test_the_software_versions_are_recorded(engine):
    versions = engine.software_versions()
    assert versions["torch"] == torch.__version__
    assert {"transformers", "cuda", "device", "dtype"} <= versions.keys()
    assert versions["dtype"] == "float32"


def test_the_engine_is_named_as_the_registry_names_it():
    assert TransformersEngine.name == "transformers"
    assert not TransformersEngine.is_simulated
