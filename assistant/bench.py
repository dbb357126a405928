"""`assistant bench`: how cost grows with the corpus.

Grows a corpus to about N chunks from real German text (the 10kGNAD news articles and the
GermanQuAD passages in ../shared/evaldata by default, recombined), indexes it and measures
indexing speed, size, memory, query latencies, cold start and incremental updates.

Dense vectors: no pretrained model can be downloaded here, so the benchmark uses deterministic
*synthetic* 384-dimensional vectors clustered by document (``SyntheticEmbedder``); they cost what
real vectors cost in FAISS, but say nothing about quality. Query embedding time of a real model
is not included (reported apart when a real model is given with --model).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .config import Settings
from .indexing import build_index
from .pipeline import Assistant

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


class SyntheticEmbedder:
    """Deterministic 384-d unit vectors: a cluster centre picked by the text's first words plus
    noise from the whole text. Stands in for a real model where none can be loaded."""

    name = "synthetic-384"
    query_prefix = ""
    passage_prefix = ""

    def __init__(self, dimension: int = 384, clusters: int = 256, seed: int = 7) -> None:
        self.dimension = dimension
        rng = np.random.default_rng(seed)
        self._centres = rng.standard_normal((clusters, dimension)).astype(np.float32)

    def _vector(self, text: str) -> np.ndarray:
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        key = int.from_bytes(hashlib.blake2b(" ".join(text.split()[:3]).encode(), digest_size=4).digest(), "little")
        noise = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal(self.dimension)
        vector = self._centres[key % len(self._centres)] + 0.6 * noise.astype(np.float32)
        return vector / np.linalg.norm(vector)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([self._vector(t) for t in texts], dtype=np.float32).reshape(-1, self.dimension)

    encode_queries = encode_passages


def source_texts(data: Path) -> tuple[list[str], dict[str, str]]:
    """Filler paragraphs from 10kGNAD, and the GermanQuAD passages by file name."""
    filler: list[str] = []
    with open(data / "10kgnad" / "articles.csv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter=";", quotechar="'"):
            if len(row) >= 2:
                filler.append(row[1])
    passages = {p.name: p.read_text(encoding="utf-8") for p in sorted((data / "germanquad" / "corpus").glob("*.txt"))}
    return filler, passages


def grow_corpus(target: Path, chunks: int, data: Path, chunk_size: int, seed: int = 1) -> int:
    """Write a corpus of about ``chunks`` chunks: the GermanQuAD passages unchanged, then
    documents of about 8 chunks recombined from shuffled 10kGNAD sentences. Returns the files."""
    filler, passages = source_texts(data)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in passages.items():
        (target / name).write_text(text, encoding="utf-8")
    sentences = [s.strip() + "." for text in filler for s in text.split(". ") if len(s) > 20]
    rng = random.Random(seed)
    have = sum(max(1, len(t) // int(chunk_size * 0.85)) for t in passages.values())
    per_doc = 8
    files = len(passages)
    number = 0
    while have < chunks:
        body: list[str] = []
        size = 0
        while size < per_doc * chunk_size * 0.85:
            sentence = sentences[rng.randrange(len(sentences))]
            body.append(sentence)
            size += len(sentence) + 1
            if rng.random() < 0.15:
                body.append("\n\n")
        folder = target / f"news-{number // 1000:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"n{number:07d}.txt").write_text(" ".join(body), encoding="utf-8")
        number += 1
        files += 1
        have += per_doc
    return files


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(pick(0.50), 2), "p95": round(pick(0.95), 2), "p99": round(pick(0.99), 2)}


def timed(fn: Any, items: list[Any]) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append(1000 * (time.perf_counter() - started))
    return out


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(chunks: int, corpus: Path | None, data: Path, queries: int = 300, work: Path | None = None) -> dict[str, Any]:
    work = work or Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    settings = Settings(corpus_dir=corpus or work / "corpus", index_dir=work / "index", model=SyntheticEmbedder.name,
                        progress=False)
    if corpus is None:
        grow_corpus(settings.corpus_dir, chunks, data, settings.chunk_size)
    embedder = SyntheticEmbedder()
    started = time.perf_counter()
    report = build_index(settings, embedder=embedder)  # type: ignore[arg-type]
    index_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "chunks": report.chunks, "documents": report.documents, "index_seconds": round(index_seconds, 2),
        "index_chunks_per_s": round(report.chunks / index_seconds, 1),
        "index_bytes": folder_bytes(settings.index_dir), "vectors": "synthetic 384-d (no model download here)",
    }
    qa = [json.loads(line) for line in open(data / "germanquad" / "qa.jsonl", encoding="utf-8")][:queries]
    questions = [q["question"] for q in qa]
    assistant = Assistant.open(settings, embedder=embedder)  # type: ignore[arg-type]
    retriever = assistant.retriever
    latency: dict[str, Any] = {}
    for mode in ("lexical", "dense", "hybrid"):
        retriever.mode = mode
        latency[mode] = percentiles(timed(lambda q: retriever.search(q, 10), questions))
    retriever.mode = "hybrid"
    latency["hybrid_answer"] = percentiles(timed(lambda q: assistant.ask(q), questions))
    result["latency_ms"] = latency
    hits = [assistant.search(q["question"], 10) for q in qa]
    result["hit_at_5_lexical_docs"] = None
    retriever.mode = "lexical"
    found = 0
    for q in qa:
        docs: list[str] = []
        for hit in retriever.search(q["question"], 40):
            if hit.chunk.doc_id not in docs:
                docs.append(hit.chunk.doc_id)
        found += bool(set(docs[:5]) & set(q["sources"]))
    result["hit_at_5_lexical_docs"] = round(found / len(qa), 4)
    del hits
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    env = dict(os.environ, ASSISTANT_MODEL="none", ASSISTANT_RETRIEVAL="lexical")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "assistant.cli", "ask", questions[0], "--index", str(settings.index_dir),
                    "--corpus", str(settings.corpus_dir)], env=env, check=True, capture_output=True)
    result["cold_start_s"] = round(time.perf_counter() - started, 2)
    # one changed document: incremental update against a full rebuild
    changed = next(p for p in sorted(settings.corpus_dir.rglob("*.txt")))
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nNachtrag zur Messung.", encoding="utf-8")
    started = time.perf_counter()
    build_index(settings, embedder=embedder)  # type: ignore[arg-type]
    result["update_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    build_index(settings, embedder=embedder, full=True)  # type: ignore[arg-type]
    result["full_rebuild_seconds"] = round(time.perf_counter() - started, 2)
    result["update_speedup"] = round(result["full_rebuild_seconds"] / max(result["update_seconds"], 1e-6), 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), None, DEFAULT_DATA), indent=1, ensure_ascii=False))
