"""multilingual-e5-small's architecture with random weights, built offline.

No pretrained model can be downloaded here, so the benchmarks build the default model's
architecture (MiniLM-L12-H384: 12 layers, hidden size 384, 12 heads, feed-forward 1536, mean
pooling) with random weights and a generated WordPiece vocabulary of XLM-R's size (250,037
tokens): the computation, and so the time, is that of the real model; the vectors mean nothing.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

XLMR_VOCAB = 250_037
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocabulary(size: int) -> list[str]:
    """Special tokens, then generated lower-case words ``w0``, ``w1``, ... up to ``size`` tokens."""
    return [*SPECIAL_TOKENS, *(f"w{i}" for i in range(size - len(SPECIAL_TOKENS)))]


def build_e5_small_architecture(target: Path, vocab_size: int = XLMR_VOCAB, seed: int = 5) -> Path:
    """Save a sentence-transformers model of e5-small's shape with random weights to ``target``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizer

    words = vocabulary(vocab_size)
    tokenizer = BertTokenizer(
        vocab={token: index for index, token in enumerate(words)}, do_lower_case=True, model_max_length=512
    )
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bert = BertModel(config).eval()
    with tempfile.TemporaryDirectory(prefix="e5-arch-") as hf_dir:
        bert.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        transformer = Transformer(hf_dir, max_seq_length=512)
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
        model.save(str(target), create_model_card=False)
    return Path(target)


def passages(count: int, tokens: int, vocab_size: int = XLMR_VOCAB, seed: int = 3) -> list[str]:
    """``count`` texts of generated words that tokenise to exactly ``tokens`` tokens ([CLS] and
    [SEP] included)."""
    rng = random.Random(seed)
    return [" ".join(f"w{rng.randrange(vocab_size - 5)}" for _ in range(tokens - 2)) for _ in range(count)]
