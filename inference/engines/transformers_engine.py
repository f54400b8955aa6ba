"""The real model in this process: Hugging Face transformers, on a GPU (or a CPU for the tiny test model).

Imported only by a worker, lazily, through engine_registry: this is the one module that imports torch.
The conversation is the model card's: the image and the first prompt in one user turn, each follow-up
prompt after the previous answer, greedy decoding, and only the new tokens decoded, special tokens skipped.
"""

import logging
import platform
import time

import torch
import transformers
from transformers import AutoModelForImageTextToText, AutoProcessor

from ..preprocess import MAX_PIXELS, MIN_PIXELS
from .base import ConversationResult, Engine, PermanentEngineError, TransientEngineError, TurnResult, each_turn

logger = logging.getLogger(__name__)

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
DEVICES = ("auto", "cpu", "cuda")


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(
        self,
        model_id,
        revision="",
        device="auto",
        dtype="bfloat16",
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        local_files_only=False,
        torch_threads=0,
        **options,
    ):
        super().__init__(
            model_id,
            revision,
            device=device,
            dtype=dtype,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            local_files_only=local_files_only,
            torch_threads=torch_threads,
            **options,
        )
        if dtype not in DTYPES:
            raise PermanentEngineError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
        if device not in DEVICES and not device.startswith("cuda:"):
            raise PermanentEngineError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
        self.device = _resolve_device(device)
        self.dtype = DTYPES[dtype]
        # The processor takes the budget as its size: shortest_edge/longest_edge are pixel counts here.
        self.image_size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
        # HF_HUB_OFFLINE=1 in the environment is honoured by huggingface_hub itself.
        self.local_files_only = local_files_only
        self.torch_threads = torch_threads
        self.processor = None
        self.model = None

    def load(self):
        started = time.perf_counter()
        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        source = {"revision": self.revision or None, "local_files_only": self.local_files_only}
        try:
            self.processor = AutoProcessor.from_pretrained(self.model_id, **source)
            self.model = AutoModelForImageTextToText.from_pretrained(
                self.model_id, dtype=self.dtype, device_map=self.device, **source
            )
        except torch.cuda.OutOfMemoryError as error:
            raise TransientEngineError(f"out of GPU memory loading {self.model_id}") from error
        except (OSError, ValueError) as error:  # missing files, unknown id or revision: the same next time
            raise PermanentEngineError(f"cannot load {self.model_id!r}: {error}") from error
        self.model.eval()
        return time.perf_counter() - started

    def converse(self, image, prompts, params, case=None, keep_alive=None):
        return self._converse_together([image], prompts, params, keep_alive)[0]

    def converse_batch(self, items, prompts, params, keep_alive=None):
        """The items' conversations in one `generate` call per turn; if the batch fails (one image the processor
        refuses, or the batch's memory), each case runs alone, so that only a case at fault fails."""
        if len(items) > 1:
            try:
                return self._converse_together([item.image for item in items], prompts, params, keep_alive)
            except (PermanentEngineError, TransientEngineError) as error:
                logger.warning("a batch of %d failed (%s); running its cases one at a time", len(items), error)
        return super().converse_batch(items, prompts, params, keep_alive)

    def _converse_together(self, images, prompts, params, keep_alive):
        conversations = [[] for _ in images]
        turns = [[] for _ in images]
        for index, prompt in each_turn(prompts, keep_alive):
            for image, messages in zip(images, conversations):
                content = [{"type": "text", "text": prompt.text}]
                if index == 0:
                    content.insert(0, {"type": "image", "image": image})
                messages.append({"role": "user", "content": content})
            for messages, so_far, turn in zip(conversations, turns, self._turn(conversations, images, prompt, params)):
                messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.text}]})
                so_far.append(turn)
        return [ConversationResult(turns=case_turns) for case_turns in turns]

    def _turn(self, conversations, images, prompt, params):
        """One turn of every conversation: prompts left-padded to one width, so that each case's new tokens
        follow its own prompt directly; the attention mask keeps the padding out of the computation."""
        started = time.perf_counter()
        try:
            inputs = self._inputs(conversations, images)  # moving the pixels to the GPU may run out too
            with torch.inference_mode():
                output = self.model.generate(**inputs, **_generate_kwargs(params))
        except torch.cuda.OutOfMemoryError as error:
            torch.cuda.empty_cache()
            raise TransientEngineError(f"out of GPU memory during generation (batch of {len(images)})") from error
        except ValueError as error:  # inputs the model rejects, e.g. image features that do not fit the text
            raise PermanentEngineError(f"the model rejected the inputs: {error}") from error
        seconds = time.perf_counter() - started
        width = inputs["input_ids"].shape[1]
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        return [
            self._turn_result(prompt, params, self._through_end_of_turn(row[width:]), length, seconds, len(images))
            for row, length in zip(output.tolist(), prompt_lengths)
        ]

    def _turn_result(self, prompt, params, new_tokens, prompt_length, seconds, batch_size):
        return TurnResult(
            prompt=prompt,
            text=self.processor.decode(new_tokens, skip_special_tokens=True),
            tokens_in=prompt_length,
            tokens_out=len(new_tokens),
            seconds=seconds,
            hit_token_limit=len(new_tokens) >= params.max_new_tokens and not self._ends_turn(new_tokens),
            batch_size=batch_size,
        )

    def _inputs(self, conversations, images):
        """Chat template, then the processor with the images (it expands the image placeholder tokens)."""
        try:
            texts = [
                self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                for messages in conversations
            ]
            inputs = self.processor(
                text=texts,
                images=images,
                images_kwargs={"size": self.image_size},
                padding=True,
                padding_side="left",
                return_tensors="pt",
            )
        except (ValueError, TypeError, OSError) as error:  # unreadable image, aspect ratio beyond 200:1, ...
            raise PermanentEngineError(f"the image cannot be prepared for the model: {error}") from error
        return inputs.to(self.model.device)

    def _through_end_of_turn(self, tokens):
        """A case's new tokens up to and including its first end-of-turn token: in a batch, a case that ends
        before the others gets padding after it."""
        ends = self._end_of_turn_ids()
        for index, token in enumerate(tokens):
            if token in ends:
                return tokens[: index + 1]
        return tokens

    def _ends_turn(self, tokens):
        return bool(tokens) and tokens[-1] in self._end_of_turn_ids()

    def _end_of_turn_ids(self):
        eos = self.model.generation_config.eos_token_id
        return {eos} if isinstance(eos, int) else set(eos or ())

    def software_versions(self):
        return {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "cuda": torch.version.cuda,
            "device": _device_name(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
        }


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _device_name(device):
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine() or "cpu"


def _generate_kwargs(params):
    """GenerationParams → generate() arguments; sampling knobs only when sampling, so greedy stays greedy."""
    kwargs = {"max_new_tokens": params.max_new_tokens, "do_sample": params.do_sample}
    if params.do_sample:
        kwargs.update(
            {k: v for k, v in (("temperature", params.temperature), ("top_p", params.top_p)) if v is not None}
        )
    if params.min_new_tokens is not None:
        kwargs["min_new_tokens"] = params.min_new_tokens
    return kwargs
