"""One engine per model per worker process, built lazily so that torch is imported only where it runs."""

import importlib
import json
import time

from django.conf import settings

from .engines.base import GenerationParams

ENGINE_CLASSES = {
    "transformers": ("inference.engines.transformers_engine", "TransformersEngine"),
    "openai": ("inference.engines.openai_engine", "OpenAIEngine"),
    "simulated": ("inference.engines.simulated", "SimulatedEngine"),
}

# This process's loaded engines, by engine_key(); a worker process serves one model in practice.
_loaded = {}
load_count = 0


def engine_key(configuration):
    options = json.dumps(configuration.options, sort_keys=True)
    return f"{configuration.engine}|{configuration.model_id}|{configuration.revision}|{options}"


def get_engine(configuration):
    """The loaded engine for `configuration`, and the seconds spent loading it now (0.0 if it was loaded)."""
    global load_count
    key = engine_key(configuration)
    if key in _loaded:
        return _loaded[key], 0.0
    engine = build_engine(configuration)
    started = time.perf_counter()
    engine.load()
    load_count += 1
    _loaded[key] = engine
    return engine, time.perf_counter() - started


def loaded_keys():
    return list(_loaded)


def build_engine(configuration):
    module_name, class_name = ENGINE_CLASSES[configuration.engine]
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class(
        configuration.model_id, configuration.revision, **_engine_options(configuration.engine, configuration.options)
    )


def _engine_options(engine, options):
    """Settings give the defaults; a configuration's options override them."""
    pixels = {"min_pixels": settings.INFERENCE_MIN_PIXELS, "max_pixels": settings.INFERENCE_MAX_PIXELS}
    defaults = {
        "transformers": {
            **pixels,
            "device": settings.INFERENCE_DEVICE,
            "dtype": settings.INFERENCE_DTYPE,
            "torch_threads": settings.INFERENCE_TORCH_THREADS,
        },
        "openai": {
            **pixels,
            "base_url": settings.INFERENCE_OPENAI_BASE_URL,
            "api_key": settings.INFERENCE_OPENAI_API_KEY,
            "timeout_s": settings.INFERENCE_OPENAI_TIMEOUT_S,
        },
        "simulated": {},
    }[engine]
    return {**defaults, **options}


def generation_params(configuration):
    return GenerationParams(**configuration.generation)
