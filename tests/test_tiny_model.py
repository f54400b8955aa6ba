"""The tiny stand-in for NV-Reason-CXR-3B loads through the same Auto classes and processor as the real one.

DB-free. The model is built once per test run (tests/conftest.py).
"""

import json

import pytest
from transformers import AutoModelForImageTextToText, AutoProcessor

from inference.engines.base import DEFAULT_PROMPT
from inference.preprocess import MAX_PIXELS, MIN_PIXELS
from tooling.tiny_model import (
    CASE_KINDS,
    DEFAULT_SEED,
    DEFAULT_STEPS,
    MANIFEST_NAME,
    SPECIAL_TOKENS,
    TRAINING_CASES,
    conversation,
    synthetic_radiograph,
    training_example,
)

PATCH = 14  # Qwen2.5-VL's vision patch: image_grid_thw counts these


@pytest.fixture(scope="module")
def processor(tiny_model_dir):
    return AutoProcessor.from_pretrained(tiny_model_dir, local_files_only=True)


def test_it_loads_through_the_auto_classes_as_a_qwen2_5_vl(tiny_model_dir, processor):
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, local_files_only=True)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessor"
    assert type(processor.video_processor).__name__ == "Qwen2VLVideoProcessor"


def test_the_manifest_records_how_it_was_made(tiny_model_dir):
    manifest = json.loads((tiny_model_dir / MANIFEST_NAME).read_text())
    assert manifest["seed"] == DEFAULT_SEED
    assert manifest["steps"] == DEFAULT_STEPS
    assert manifest["final_loss"] < 0.1


def test_special_tokens_are_single_tokens_that_the_config_refers_to(tiny_model_dir, processor):
    tokenizer = processor.tokenizer
    config = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, local_files_only=True).config
    for token in SPECIAL_TOKENS:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    assert config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert config.vision_start_token_id == tokenizer.convert_tokens_to_ids("<|vision_start|>")
    assert tokenizer.eos_token == "<|im_end|>"


def test_the_chat_template_is_qwen2_5_vl_s(processor):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": DEFAULT_PROMPT}]}]
    assert processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{DEFAULT_PROMPT}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_the_tokenizer_round_trips_the_traces(processor):
    for case in TRAINING_CASES:
        ids = processor.tokenizer.encode(case.answer, add_special_tokens=False)
        assert processor.decode(ids, skip_special_tokens=True) == case.answer


@pytest.mark.parametrize("size", [(2500, 3000), (60, 40), (4000, 100), (476, 476)])
def test_the_processor_keeps_images_within_the_pixel_budget(processor, size):
    image = synthetic_radiograph(size=size)
    budget = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    inputs = processor(
        text=["<|vision_start|><|image_pad|><|vision_end|>"],
        images=[image],
        images_kwargs={"size": budget},
        return_tensors="pt",
    )
    _, rows, columns = inputs["image_grid_thw"][0].tolist()
    assert MIN_PIXELS <= rows * columns * PATCH**2 <= MAX_PIXELS


def test_a_smaller_budget_gives_fewer_image_tokens(processor):
    image = synthetic_radiograph(size=(1000, 1200))

    def image_tokens(max_pixels):
        budget = {"shortest_edge": 56 * 56, "longest_edge": max_pixels}
        inputs = processor(text=["<|image_pad|>"], images=[image], images_kwargs={"size": budget})
        return inputs["input_ids"][0].count(processor.image_token_id)

    assert image_tokens(224 * 224) < image_tokens(MAX_PIXELS) <= MAX_PIXELS // (2 * PATCH) ** 2


def test_only_the_assistant_turns_are_learned(processor):
    case = TRAINING_CASES[1]
    image = synthetic_radiograph(case.kind)
    example = training_example(processor, conversation(case, image), image)
    learned = [token for token in example["labels"][0].tolist() if token != -100]
    assert processor.decode(learned) == f"{case.answer}<|im_end|>{case.report}<|im_end|>"


@pytest.mark.parametrize("kind", CASE_KINDS)
def test_synthetic_radiographs_are_rgb_at_the_size_asked(kind):
    image = synthetic_radiograph(kind, size=(300, 360), seed=3)
    assert image.mode == "RGB" and image.size == (300, 360)


def test_an_unknown_synthetic_finding_is_refused():
    with pytest.raises(ValueError, match="unknown synthetic finding"):
        synthetic_radiograph("fracture")


def test_make_tiny_model_s_sample_answer_is_the_model_card_s_question_answered_in_its_format(tiny_model_dir):
    from tooling.management.commands.make_tiny_model import sample_turn

    turn = sample_turn(str(tiny_model_dir))
    assert turn.prompt.text == DEFAULT_PROMPT
    assert turn.text.lstrip().startswith("<think>") and "</answer>" in turn.text, turn.text
    assert turn.tokens_out > 0 and not turn.hit_token_limit
