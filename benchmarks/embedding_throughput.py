"""Embedding throughput of the default model's architecture on this machine.

No pretrained model can be downloaded here, so this builds multilingual-e5-small's architecture
(MiniLM-L12-H384: 12 layers, hidden size 384, 12 heads, XLM-R vocabulary of 250,037 tokens) with
random weights: the computation, and so the time, is that of the real model; the vectors mean
nothing. Prints passages per second for passages of 256 tokens (a 1,000-character German chunk
has about 250-300 XLM-R tokens).

    .venv/bin/python benchmarks/embedding_throughput.py [--threads 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import BertConfig, BertModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = BertConfig(
        vocab_size=250037,
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=514,
    )
    model = BertModel(config).eval()
    ids = torch.randint(5, 250000, (args.batch, args.tokens))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(input_ids=ids[:2], attention_mask=mask[:2])
        started, done = time.perf_counter(), 0
        while time.perf_counter() - started < args.seconds:
            model(input_ids=ids, attention_mask=mask)
            done += args.batch
        rate = done / (time.perf_counter() - started)
    print(
        f"e5-small architecture, {args.threads} thread(s), {args.tokens} tokens: {rate:.1f} passages/s "
        f"-> 1M chunks in {1e6 / rate / 3600:.1f} h"
    )


if __name__ == "__main__":
    main()
