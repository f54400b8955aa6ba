"""A tiny Qwen2.5-VL, built and trained offline in about a minute, that writes NV-Reason-CXR-3B's format.

No weights can be downloaded on the development machines, yet the engine, the parser and the pages need real model
text. This module builds a randomly initialised Qwen2.5-VL of a few hundred thousand parameters with its own
byte-level BPE tokenizer, the Qwen2.5-VL chat template and processors, trains it on a handful of synthetic
radiographs with hand-written traces, and saves it so that `AutoModelForImageTextToText` and
`AutoProcessor` load it exactly as they load the real model. Its greedy output has the real structure:

    <think> paragraphs in review order </think>
    <answer> Label, Label </answer>

and it answers the `Write a structured report` follow-up. It reads images only weakly: on a new image it
mostly writes one of its training traces (most often the normal one), so tests may rely on the format, never
on the findings. Worker-side only: it imports torch.
"""

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2Tokenizer,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
)
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

from inference.engines.base import DEFAULT_PROMPT, REPORT_PROMPT
from inference.preprocess import MAX_PIXELS, MIN_PIXELS
from inference.trace_format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from tooling.synthetic.constants import MAX_VALUE
from tooling.synthetic.picture import render_chest

# 300 steps leave the format unreliable (2 to 9 well-formed traces in 10, by seed); 600 give 10 in 10.
DEFAULT_STEPS = 600
DEFAULT_SEED = 0
MANIFEST_NAME = "tiny_model.json"
# Two threads: the CI machine has two cores, and more threads only add contention at this size.
TRAINING_THREADS = 2
LEARNING_RATE = 3e-3

# Qwen2.5-VL's special tokens, in its order; the model config refers to the vision ones by id.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2.5-VL-Instruct's chat template, which NV-Reason-CXR-3B keeps.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TrainingCase:
    kind: str  # what synthetic_radiograph() draws for this case
    paragraphs: tuple[str, ...]  # one per region, in the model's review order
    labels: tuple[str, ...]
    report: str

    @property
    def answer(self):
        thinking = "\n\n".join(self.paragraphs)
        return f"{THINK_OPEN}\n{thinking}\n{THINK_CLOSE}\n{ANSWER_OPEN} {', '.join(self.labels)} {ANSWER_CLOSE}"


TRAINING_CASES = (
    TrainingCase(
        kind="normal",
        paragraphs=(
            "The image quality is adequate: a PA projection with good inspiration and no rotation.",
            "No lines, tubes or other support devices are seen.",
            "The trachea is midline and the central airways are patent.",
            "The right lung is clear, with no focal consolidation or mass.",
            "The left lung is clear, with no focal consolidation or mass.",
            "The costophrenic angles are sharp; there is no pleural effusion or pneumothorax.",
            "The mediastinal contours are normal.",
            "Both hila are normal in size and position.",
            "The heart is normal in size.",
            "No free air is seen under the diaphragm in the upper abdomen.",
            "The bones show no acute fracture.",
            "Overall, no acute cardiopulmonary abnormality.",
        ),
        labels=("No Finding",),
        report=(
            "FINDINGS:\nLines and tubes: none.\nLungs: clear.\nPleura: no effusion or pneumothorax.\n"
            "Heart and mediastinum: normal.\nBones: no acute fracture.\n\n"
            "IMPRESSION:\nNo acute cardiopulmonary abnormality."
        ),
    ),
    TrainingCase(
        kind="effusion",
        paragraphs=(
            "The image quality is adequate: an AP projection with fair inspiration and mild rotation.",
            "No lines, tubes or other support devices are seen.",
            "The trachea is midline and the central airways are patent.",
            "The right lung base is obscured by dense opacity with a meniscus.",
            "The left lung is clear, with no focal consolidation.",
            "A moderate right pleural effusion blunts the right costophrenic angle; no pneumothorax.",
            "The mediastinal contours are otherwise unremarkable.",
            "The hila are normal.",
            "The heart is enlarged, with a cardiothoracic ratio above one half.",
            "No free air is seen under the diaphragm in the upper abdomen.",
            "The bones show no acute fracture.",
            "In summary, cardiomegaly with a moderate right pleural effusion.",
        ),
        labels=("Cardiomegaly", "Pleural Effusion"),
        report=(
            "FINDINGS:\nLines and tubes: none.\nLungs: right basal opacity.\n"
            "Pleura: moderate right pleural effusion.\nHeart and mediastinum: enlarged heart.\n"
            "Bones: no acute fracture.\n\n"
            "IMPRESSION:\nCardiomegaly and a moderate right pleural effusion."
        ),
    ),
    TrainingCase(
        kind="pneumonia",
        paragraphs=(
            "The image quality is adequate: a PA projection with good inspiration and no rotation.",
            "No lines, tubes or other support devices are seen.",
            "The trachea is midline and the central airways are patent.",
            "The right lung is clear.",
            "The left lung shows patchy consolidation in the lower zone with air bronchograms.",
            "There is no pleural effusion or pneumothorax.",
            "The mediastinal contours are normal.",
            "Both hila are normal.",
            "The heart is normal in size.",
            "No free air is seen under the diaphragm in the upper abdomen.",
            "The bones show no acute fracture.",
            "Overall, left lower zone consolidation, in keeping with pneumonia.",
        ),
        labels=("Consolidation", "Lung Opacity", "Pneumonia"),
        report=(
            "FINDINGS:\nLines and tubes: none.\nLungs: left lower zone consolidation.\n"
            "Pleura: no effusion or pneumothorax.\nHeart and mediastinum: normal.\n"
            "Bones: no acute fracture.\n\n"
            "IMPRESSION:\nLeft lower zone consolidation, likely pneumonia."
        ),
    ),
    TrainingCase(
        kind="devices",
        paragraphs=(
            "The image quality is limited: an AP supine projection with low inspiration.",
            "An endotracheal tube tip lies 4 cm above the carina and a right central venous catheter ends "
            "in the lower SVC.",
            "The trachea is midline.",
            "The right lung shows linear atelectasis at the base.",
            "The left lung is clear.",
            "There is no pleural effusion or pneumothorax.",
            "The mediastinal contours are normal.",
            "The hila are normal.",
            "The heart is normal in size.",
            "No free air is seen under the diaphragm in the upper abdomen.",
            "The bones show no acute fracture.",
            "In summary, support devices in satisfactory position and right basal atelectasis.",
        ),
        labels=("Atelectasis", "Support Devices"),
        report=(
            "FINDINGS:\nLines and tubes: endotracheal tube and right central venous catheter in position.\n"
            "Lungs: right basal linear atelectasis.\nPleura: no effusion or pneumothorax.\n"
            "Heart and mediastinum: normal.\nBones: no acute fracture.\n\n"
            "IMPRESSION:\nSupport devices in position. Right basal atelectasis."
        ),
    ),
    TrainingCase(
        kind="pneumothorax",
        paragraphs=(
            "The image quality is adequate: a PA projection with good inspiration and no rotation.",
            "No lines, tubes or other support devices are seen.",
            "The trachea is midline and the central airways are patent.",
            "The right lung is partly collapsed, with a visible pleural edge at the apex.",
            "The left lung is clear.",
            "A right apical pneumothorax is present; there is no pleural effusion.",
            "The mediastinum is not shifted.",
            "The hila are normal.",
            "The heart is normal in size.",
            "No free air is seen under the diaphragm in the upper abdomen.",
            "The bones show no acute fracture.",
            "Overall, a right apical pneumothorax without mediastinal shift.",
        ),
        labels=("Pneumothorax",),
        report=(
            "FINDINGS:\nLines and tubes: none.\nLungs: right lung partly collapsed.\n"
            "Pleura: right apical pneumothorax.\nHeart and mediastinum: normal, no shift.\n"
            "Bones: no acute fracture.\n\n"
            "IMPRESSION:\nRight apical pneumothorax."
        ),
    ),
)
CASE_KINDS = tuple(case.kind for case in TRAINING_CASES)


# ---- synthetic radiographs -------------------------------------------------------------------------------

# The findings each training case's image shows, drawn by the project's own synthetic generator, so that
# the tiny model is trained on the kind of image the tests and the demo show it.
KIND_FINDINGS = {
    "normal": (),
    "effusion": ("pleural-effusion",),
    "pneumonia": ("pneumonia", "consolidation"),
    "devices": ("support-devices", "atelectasis"),
    "pneumothorax": ("pneumothorax",),
}


def synthetic_radiograph(kind="normal", size=(448, 512), seed=0):
    """A frontal chest radiograph (RGB, width×height `size`) showing the finding `kind` stands for."""
    if kind not in KIND_FINDINGS:
        raise ValueError(f"unknown synthetic finding {kind!r}")
    width, height = size
    pixels = render_chest(np.random.default_rng(seed), width, height, KIND_FINDINGS[kind])
    eight_bit = (pixels.astype(np.float32) * (255 / MAX_VALUE)).astype(np.uint8)
    return Image.fromarray(eight_bit).convert("RGB")


def plain_greyscale_image(size, seed=0):
    """A flat, graded or noisy grey image: not a chest film, but what a test may put in a DICOM file."""
    width, height = size
    rng = np.random.default_rng(seed)
    style = rng.integers(3)
    if style == 0:
        pixels = np.full((height, width), rng.uniform(0, 255))
    elif style == 1:
        pixels = np.linspace(rng.uniform(0, 128), rng.uniform(128, 255), width)[None, :].repeat(height, axis=0)
    else:
        pixels = rng.uniform(0, 255, (height, width))
    return Image.fromarray(pixels.astype(np.uint8)).convert("RGB")


# ---- tokenizer, processor, model --------------------------------------------------------------------------


def build_tokenizer(texts, vocab_size=1024):
    """A byte-level BPE tokenizer trained on `texts`, with Qwen2's pre-tokenizer and special tokens.

    Qwen2Tokenizer rebuilds this pipeline from the saved vocabulary and merges when loaded, so the trained
    tokenizer must use exactly the same normaliser, pre-tokenizer and decoder to load back identical.
    """
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(texts, trainer)
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=32768
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer):
    # The real model's pixel budget; the engine passes its own per call anyway.
    image_processor = Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    video_processor = Qwen2VLVideoProcessor()
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(tokenizer):
    """Qwen2.5-VL's architecture at toy size: the real patch/merge geometry, tiny widths and depths."""
    token_id = tokenizer.convert_tokens_to_ids
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "max_window_layers": 2,
        "tie_word_embeddings": True,
        # mrope splits each head's rotary half (32 / 2 = 16) between time, height and width.
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [4, 6, 6]},
        "bos_token_id": token_id("<|endoftext|>"),
        "eos_token_id": token_id("<|im_end|>"),
        "pad_token_id": token_id("<|endoftext|>"),
    }
    vision_config = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 128,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
    }
    config = Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        tie_word_embeddings=True,
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=token_id("<|endoftext|>"),
        pad_token_id=token_id("<|endoftext|>"),
        eos_token_id=[token_id("<|im_end|>"), token_id("<|endoftext|>")],
    )
    return model


# ---- training -----------------------------------------------------------------------------------------------


def conversation(case, image):
    """The two-turn conversation the engine holds: findings, then the structured-report follow-up."""
    return [
        first_question(image),
        {"role": "assistant", "content": [{"type": "text", "text": case.answer}]},
        {"role": "user", "content": [{"type": "text", "text": REPORT_PROMPT}]},
        {"role": "assistant", "content": [{"type": "text", "text": case.report}]},
    ]


def first_question(image):
    return {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": DEFAULT_PROMPT}]}


def training_example(processor, messages, image):
    text = processor.apply_chat_template(messages, tokenize=False)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    inputs["labels"] = assistant_labels(inputs["input_ids"], processor.tokenizer)
    return inputs


def assistant_labels(input_ids, tokenizer):
    """Only the assistant turns and their <|im_end|> are learned; the prompt and the image are context."""
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assistant = tokenizer.encode("assistant\n", add_special_tokens=False)
    ids = input_ids[0].tolist()
    labels = [-100] * len(ids)
    position = 0
    while position < len(ids):
        header_end = position + 1 + len(assistant)
        if ids[position] == im_start and ids[position + 1 : header_end] == assistant:
            end = ids.index(im_end, header_end)
            labels[header_end : end + 1] = ids[header_end : end + 1]
            position = end
        position += 1
    return torch.tensor([labels])


def training_set(processor, seed, rounds=8):
    """Each round draws every case at one size, so only what an image shows, not its size, tells them apart.

    Each round also adds a grey image that is no chest film, read as normal, so that any greyscale input a
    test invents still gets a well-formed trace.
    """
    rng = random.Random(seed)
    normal = TRAINING_CASES[0]
    examples = []
    for _ in range(rounds):
        size = (rng.randint(96, 640), rng.randint(120, 640))
        for case in TRAINING_CASES:
            image = synthetic_radiograph(case.kind, size=size, seed=rng.randrange(2**31))
            examples.append(training_example(processor, conversation(case, image), image))
        image = plain_greyscale_image(size, seed=rng.randrange(2**31))
        examples.append(training_example(processor, conversation(normal, image), image))
    return examples


def train(model, examples, steps, seed, learning_rate=LEARNING_RATE):
    """Plain AdamW with a linear decay to zero: at this size, memorising the traces is the whole task."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    model.train()
    order = []
    losses = []
    for _ in range(steps):
        if not order:
            order = list(range(len(examples)))
            rng.shuffle(order)
        loss = model(**examples[order.pop()]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def make_tiny_model(out, steps=DEFAULT_STEPS, seed=DEFAULT_SEED):
    """Build, train and save the tiny model to `out`; returns the manifest written beside it."""
    started = time.perf_counter()
    threads = torch.get_num_threads()
    training_threads = min(threads, TRAINING_THREADS)
    # The thread count changes the order of float sums, so results repeat only at the same count.
    torch.set_num_threads(training_threads)
    torch.manual_seed(seed)
    try:
        texts = [case.answer for case in TRAINING_CASES] + [case.report for case in TRAINING_CASES]
        tokenizer = build_tokenizer(texts + [DEFAULT_PROMPT, REPORT_PROMPT, "You are a helpful assistant."])
        processor = build_processor(tokenizer)
        model = build_model(tokenizer)
        losses = train(model, training_set(processor, seed), steps, seed)
    finally:
        torch.set_num_threads(threads)
    out = Path(out)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    manifest = {
        "seed": seed,
        "steps": steps,
        "learning_rate": LEARNING_RATE,
        "torch_threads": training_threads,
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),  # mean of the last 20 steps
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
