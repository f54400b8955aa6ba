#!/usr/bin/env python
"""The CUDA path of the transformers engine, checked on any GPU host with the tiny model (no weights needed).

    python scripts/gpu_check.py [--model DIR] [--batch-sizes 1,4,8] [--tokens 128]

Builds the tiny Qwen2.5-VL of `make_tiny_model` unless --model names one, loads it through the engine a worker
uses (bf16 on cuda by default), then for each batch size: tokens/s at a fixed output length, peak GPU memory,
and whether each case's greedy answer equals its single-case answer. Last, it caps this process's GPU memory
below what a batch needs and checks that running out is reported as a transient error (the job is retried)
and that the engine generates again afterwards.

Exit status: 0 all checks passed, 1 a check failed, 2 no CUDA device (`--device cpu --dtype float32` is a dry
run of the same steps, the memory check left out).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402  (after the path: the project's modules are imported below)

from inference.engines.base import BatchItem, GenerationParams, Prompt, TransientEngineError, TurnKind  # noqa: E402
from inference.engines.transformers_engine import TransformersEngine  # noqa: E402
from tooling.tiny_model import CASE_KINDS, make_tiny_model, synthetic_radiograph  # noqa: E402

FINDINGS = Prompt("Find abnormalities and support devices.", TurnKind.FINDINGS)
# Different sizes, so that every batch pads its prompts to one width.
SIZES = [(520, 600), (256, 320), (400, 300), (300, 500), (448, 512), (320, 256), (600, 520), (384, 384)]


def main(argv=None):
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device is available: nothing to check (try --device cpu --dtype float32 for a dry run)")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model or build_model(Path(scratch) / "tiny-model")
        engine = TransformersEngine(str(model_dir), device=args.device, dtype=args.dtype, local_files_only=True)
        load_s = engine.load()
        print(f"loaded {model_dir} in {load_s:.1f} s: {describe(engine)}")
        failures = check_batches(engine, args.batch_sizes, args.tokens)
        if engine.device.startswith("cuda"):
            failures += check_out_of_memory(engine)
    print("all checks passed" if not failures else f"{failures} check(s) failed")
    return 1 if failures else 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a saved tiny (or real) model; built here if left out")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--batch-sizes", default="1,4,8", type=lambda text: [int(n) for n in text.split(",")])
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per case in the throughput runs")
    return parser.parse_args(argv)


def build_model(out):
    print("building the tiny model …", flush=True)
    manifest = make_tiny_model(out)
    print(f"built {manifest['parameters']:,} parameters in {manifest['seconds']} s")
    return out


def describe(engine):
    parameter = next(engine.model.parameters())
    versions = engine.software_versions()
    where = f"{versions['device']}, torch {versions['torch']}, cuda {versions['cuda']}"
    return f"{parameter.dtype} on {parameter.device} ({where})"


def images(count):
    kinds = list(dict.fromkeys(CASE_KINDS))
    return [synthetic_radiograph(kinds[i % len(kinds)], size=SIZES[i % len(SIZES)], seed=i) for i in range(count)]


def check_batches(engine, batch_sizes, tokens):
    """Per batch size: throughput at a fixed length, peak memory, and greedy answers equal to single ones."""
    cases = images(max(batch_sizes))
    alone = [engine.converse(image, [FINDINGS], GenerationParams()).turns[0].text for image in cases]
    fixed = GenerationParams(max_new_tokens=tokens, min_new_tokens=tokens)
    failures = 0
    print(f"{'batch':>5} {'tokens/s':>9} {'s/batch':>8} {'peak MiB':>9}  greedy answers equal to single-case ones")
    for size in batch_sizes:
        items = [BatchItem(image) for image in cases[:size]]
        reset_peak_memory(engine)
        started = time.perf_counter()
        results = engine.converse_batch(items, [FINDINGS], fixed)
        seconds = time.perf_counter() - started
        errors = [result for result in results if isinstance(result, Exception)]
        if errors:
            print(f"{size:>5} failed: {errors[0]}")
            failures += 1
            continue
        produced = sum(result.turns[0].tokens_out for result in results)
        natural = engine.converse_batch(items, [FINDINGS], GenerationParams())
        equal = sum(result.turns[0].text == text for result, text in zip(natural, alone))
        # bf16 kernels may round a padded batch differently from a single case: reported, not failed.
        print(f"{size:>5} {produced / seconds:>9.1f} {seconds:>8.2f} {peak_memory_mib(engine):>9}  {equal}/{size}")
    return failures


def check_out_of_memory(engine):
    """Cap the process's GPU memory just above what the weights hold: a batch of 8 must run out, be reported
    as a transient error for each case, and leave the engine able to generate once the cap is lifted."""
    device = torch.device(engine.device)
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction((torch.cuda.memory_allocated(device) + 2**20) / total, device)
    try:
        items = [BatchItem(image) for image in images(8)]
        results = engine.converse_batch(items, [FINDINGS], GenerationParams(max_new_tokens=64))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
    transient = sum(isinstance(result, TransientEngineError) for result in results)
    recovered = engine.converse(images(1)[0], [FINDINGS], GenerationParams(max_new_tokens=8)).turns[0].tokens_out
    passed = transient == len(items) and recovered == 8
    print(
        f"out of memory: {transient}/{len(items)} cases reported as transient errors; "
        f"{recovered} tokens generated after the cap was lifted — {'ok' if passed else 'FAILED'}"
    )
    return 0 if passed else 1


def reset_peak_memory(engine):
    if engine.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(engine.device))


def peak_memory_mib(engine):
    if not engine.device.startswith("cuda"):
        return "n/a"
    return f"{torch.cuda.max_memory_allocated(torch.device(engine.device)) / 2**20:.1f}"


if __name__ == "__main__":
    sys.exit(main())
