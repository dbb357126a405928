"""Embedding throughput of the default model's architecture, torch and ONNX Runtime side by side.

No pretrained model can be downloaded here, so this builds multilingual-e5-small's architecture
(assistant/bench/e5_arch.py: 12 layers, hidden size 384, 12 heads, a vocabulary of XLM-R's
250,037 tokens) with random weights: the computation, and so the time, is that of the real
model; the vectors mean nothing. Each backend ("torch", "onnx", "onnx-int8", "openvino",
"openvino-int8", see
ASSISTANT_EMBED_BACKEND) is loaded as the assistant loads it and encodes passages of 256 tokens
(a 1,000-character German chunk has about 250-300 XLM-R tokens); the backends take turns, round
after round, and each one's best round counts, so a busy machine slows all alike and its peaks
fall out. Also prints the cosine of each backend's vectors to torch's.

    .venv/bin/python benchmarks/embedding_throughput.py [--threads 2] [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from assistant.bench.e5_arch import build_e5_small_architecture, passages
from assistant.index.embedder import load_embedder

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")


def measure(model_dir: Path, threads: int, rounds: int, batch: int, tokens: int) -> dict[str, Any]:
    """Passages/s of each backend (best of ``rounds`` turns of ``batch`` passages each)."""
    torch.set_num_threads(threads)
    texts = passages(batch, tokens)
    embedders = {b: load_embedder(str(model_dir), "", "", batch_size=batch, backend=b) for b in BACKENDS}
    result: dict[str, Any] = {"threads": threads, "tokens": tokens, "batch": batch, "rounds": rounds}
    for backend, embedder in embedders.items():
        if embedder.backend != backend:
            raise SystemExit(f"Backend {backend} nicht verfügbar (läuft als {embedder.backend})")
        embedder.encode_passages(texts[:2])  # warm-up: first-call allocations
    best = dict.fromkeys(BACKENDS, 0.0)
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for backend, embedder in embedders.items():
            started = time.perf_counter()
            vectors[backend] = embedder.encode_passages(texts)
            best[backend] = max(best[backend], len(texts) / (time.perf_counter() - started))
    for backend in BACKENDS:
        cosine = float((vectors[backend] * vectors["torch"]).sum(axis=1).min())
        result[backend] = {
            "passages_per_s": round(best[backend], 2),
            "hours_per_million": round(1e6 / best[backend] / 3600, 1),
            "min_cosine_to_torch": round(cosine, 6),
        }
    result["speedup"] = round(best["onnx"] / best["torch"], 2)
    result["speedup_int8"] = round(best["onnx-int8"] / best["torch"], 2)
    result["speedup_openvino"] = round(best["openvino"] / best["torch"], 2)
    result["speedup_openvino_int8"] = round(best["openvino-int8"] / best["torch"], 2)
    result["openvino_precision"] = getattr(embedders["openvino"]._model, "precision", "")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--model-dir", type=Path, help="folder for the built model (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="e5-arch-") as scratch:
        model_dir = args.model_dir or Path(scratch) / "model"
        if not (model_dir / "modules.json").exists():
            build_e5_small_architecture(model_dir)
        result = measure(model_dir, args.threads, args.rounds, args.batch, args.tokens)
    for backend in BACKENDS:
        row = result[backend]
        print(
            f"e5-small architecture, {backend:9s} {args.threads} thread(s), {args.tokens} tokens: "
            f"{row['passages_per_s']:.1f} passages/s -> 1M chunks in {row['hours_per_million']:.1f} h "
            f"(cosine to torch >= {row['min_cosine_to_torch']:.4f})"
        )
    print(
        f"speedup onnx {result['speedup']:.2f}x, onnx-int8 {result['speedup_int8']:.2f}x, openvino "
        f"{result['speedup_openvino']:.2f}x ({result['openvino_precision']}), openvino-int8 "
        f"{result['speedup_openvino_int8']:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
