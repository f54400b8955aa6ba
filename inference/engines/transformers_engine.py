"""The real model in this process: Hugging Face transformers, on a GPU (or a CPU for the tiny test model).

Imported only by a worker, lazily, through engine_registry: this is the one module that imports torch.
The conversation is the model card's: the image and the first prompt in one user turn, each follow-up
prompt after the previous answer, greedy decoding, and only the new tokens decoded, special tokens skipped.
"""

import platform
import time

import torch
import transformers
from transformers import AutoModelForImageTextToText, AutoProcessor

from ..preprocess import MAX_PIXELS, MIN_PIXELS
from .base import ConversationResult, Engine, PermanentEngineError, TransientEngineError, TurnResult, each_turn

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
        messages = []
        turns = []
        for index, prompt in each_turn(prompts, keep_alive):
            content = [{"type": "text", "text": prompt.text}]
            if index == 0:
                content.insert(0, {"type": "image", "image": image})
            messages.append({"role": "user", "content": content})
            turn = self._turn(messages, image, prompt, params)
            messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.text}]})
            turns.append(turn)
        return ConversationResult(turns=turns)

    def _turn(self, messages, image, prompt, params):
        started = time.perf_counter()
        inputs = self._inputs(messages, image)
        prompt_length = inputs["input_ids"].shape[1]
        try:
            with torch.inference_mode():
                output = self.model.generate(**inputs, **_generate_kwargs(params))
        except torch.cuda.OutOfMemoryError as error:
            torch.cuda.empty_cache()
            raise TransientEngineError("out of GPU memory during generation") from error
        except ValueError as error:  # inputs the model rejects, e.g. image features that do not fit the text
            raise PermanentEngineError(f"the model rejected the inputs: {error}") from error
        new_tokens = output[0, prompt_length:].tolist()
        text = self.processor.decode(new_tokens, skip_special_tokens=True)
        return TurnResult(
            prompt=prompt,
            text=text,
            tokens_in=prompt_length,
            tokens_out=len(new_tokens),
            seconds=time.perf_counter() - started,
            hit_token_limit=len(new_tokens) >= params.max_new_tokens and not self._ends_turn(new_tokens),
        )

    def _inputs(self, messages, image):
        """Chat template, then the processor with the image (it expands the image placeholder tokens)."""
        try:
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            inputs = self.processor(
                text=[text], images=[image], images_kwargs={"size": self.image_size}, return_tensors="pt"
            )
        except (ValueError, TypeError, OSError) as error:  # unreadable image, aspect ratio beyond 200:1, ...
            raise PermanentEngineError(f"the image cannot be prepared for the model: {error}") from error
        return inputs.to(self.model.device)

    def _ends_turn(self, tokens):
        eos = self.model.generation_config.eos_token_id
        eos = {eos} if isinstance(eos, int) else set(eos or ())
        return bool(tokens) and tokens[-1] in eos

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
