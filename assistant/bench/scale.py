"""`assistant bench`: how cost grows with the corpus.

Grows a corpus to about N chunks from real German text (the 10kGNAD news articles and the
GermanQuAD passages in ../shared/evaldata by default, recombined), indexes it and measures
indexing speed, size, memory, query latencies, cold start and incremental updates.

Dense vectors: no pretrained model can be downloaded here, so the benchmark uses deterministic
*synthetic* 384-dimensional vectors clustered by document (``SyntheticEmbedder``); they cost what
real vectors cost in FAISS, but say nothing about quality. Query embedding time of a real model
is measured apart, per embedding backend, with e5-small's architecture and random weights
(:mod:`assistant.bench.query_embedding`), at the end so that its memory stays out of the peaks.
"""

from __future__ import annotations

import csv
import dataclasses
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
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..index.build import build_index
from ..index.format import read_manifest
from ..pipeline import Assistant
from .query_embedding import BACKENDS, percentiles, query_embedding_ms

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "evaldata"


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


def doc_hit_at_5(ranked_doc_ids: list[list[str]], qa: list[dict[str, Any]]) -> float:
    found = 0
    for docs, item in zip(ranked_doc_ids, qa, strict=False):
        distinct = list(dict.fromkeys(docs))[:5]
        found += bool(set(distinct) & set(item["sources"]))
    return round(found / max(len(qa), 1), 4)


def langchain_side_by_side(
    index: Any, embedder: SyntheticEmbedder, qa: list[dict[str, Any]], ours: Any
) -> dict[str, Any]:
    """LangChain's usual stack on the same chunks, vectors and questions: BM25Retriever +
    FAISS vector store + EnsembleRetriever (defaults; k = 5 so that hit@5 can be measured)."""
    try:
        warnings.filterwarnings("ignore", message=".*langchain-community.*", category=DeprecationWarning)
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever
        from langchain_community.vectorstores import FAISS
        from langchain_core.documents import Document as LCDocument
        from langchain_core.embeddings import Embeddings
    except ImportError as exc:
        return {"skipped": f"langchain-community nicht installiert ({exc}); pip install -e '.[dev]'"}

    class Wrapped(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.encode_queries([text])[0].tolist()

    docs = [
        LCDocument(page_content=c.text, metadata={"doc_id": c.doc_id})
        for c in (index.chunks[int(r)] for r in np.flatnonzero(index.live))
    ]
    started = time.perf_counter()
    bm25 = BM25Retriever.from_documents(docs, k=5)
    store = FAISS.from_documents(docs, Wrapped())
    # weights as the default (equal), written out because the type checker wants them
    ensemble = EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": 5})], weights=[0.5, 0.5])
    build_s = time.perf_counter() - started
    questions = [q["question"] for q in qa]
    started = time.perf_counter()
    theirs = [[d.metadata["doc_id"] for d in ensemble.invoke(q)] for q in questions]
    their_qps = len(questions) / (time.perf_counter() - started)
    started = time.perf_counter()
    mine = [[h.chunk.doc_id for h in ours.search(q, 10)] for q in questions]
    our_qps = len(questions) / (time.perf_counter() - started)
    return {
        "hit_at_5": doc_hit_at_5(theirs, qa),
        "queries_per_s": round(their_qps, 1),
        "throughput_ratio": round(our_qps / their_qps, 1),
        "build_seconds": round(build_s, 1),
        "ours": {"hit_at_5": doc_hit_at_5(mine, qa), "queries_per_s": round(our_qps, 1)},
        "questions": len(questions),
    }


LANGCHAIN_MAX_CHUNKS = 150_000  # beyond, LangChain's in-memory BM25 needs hours and tens of GB
FULL_REBUILD_MAX_CHUNKS = 300_000  # beyond, the first build (also a full one) is the figure


def run(
    chunks: int,
    corpus: Path | None = None,
    data: Path = DEFAULT_DATA,
    queries: int = 200,
    work: Path | None = None,
    langchain: bool = True,
    langchain_queries: int = 100,
    log: Callable[[str], None] = lambda step: None,
    query_embedding: bool = True,
) -> dict[str, Any]:
    """Grow (or take) a corpus, index it and measure; see the module docstring. ``log`` hears
    each step."""

    own_work = work is None
    work = work or Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    settings = Settings(
        corpus_dir=corpus or work / "corpus", index_dir=work / "index", model=SyntheticEmbedder.name, progress=False
    )
    log(f"Korpus mit etwa {chunks} Abschnitten erzeugen" if corpus is None else "Korpus indexieren")
    if corpus is None:
        grow_corpus(settings.corpus_dir, chunks, data, settings.chunk_size)
    embedder = SyntheticEmbedder()
    log("indexieren mit einem Prozess")
    single = settings.replace(index_dir=work / "index-one-worker", index_workers=1)
    started = time.perf_counter()
    build_index(single, embedder=embedder)
    one_worker_seconds = time.perf_counter() - started
    shutil.rmtree(single.index_dir, ignore_errors=True)
    log(f"indexieren mit {settings.index_workers} Hilfsprozessen")
    started = time.perf_counter()
    report = build_index(settings, embedder=embedder)
    index_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "chunks": report.chunks,
        "documents": report.documents,
        "index_seconds": round(index_seconds, 2),
        "index_chunks_per_s": round(report.chunks / index_seconds, 1),
        # The same corpus built before with index_workers=1 (all in one process, as before issue 16).
        "index_workers": settings.index_workers,
        "index_chunks_per_s_one_worker": round(report.chunks / one_worker_seconds, 1),
        "parallel_speedup": round(one_worker_seconds / index_seconds, 2),
        "index_bytes": folder_bytes(settings.index_dir),
        "vectors": "synthetic 384-d (no model download here)",
    }
    faiss_info = read_manifest(settings.index_dir).faiss
    keys = ("kind", "nlist", "nprobe", "recall_at_10", "describe")
    result["dense_index"] = dataclasses.asdict(faiss_info) if faiss_info else dict.fromkeys(keys)
    with open(data / "germanquad" / "qa.jsonl", encoding="utf-8") as handle:
        qa = [json.loads(line) for line in handle][:queries]
    questions = [q["question"] for q in qa]
    assistant = Assistant.open(settings, embedder=embedder)
    retriever = assistant.retriever
    latency: dict[str, Any] = {}
    log("Latenzen messen")
    for mode in ("lexical", "dense", "hybrid"):
        retriever.mode = mode
        latency[mode] = percentiles(timed(lambda q: retriever.search(q, 10), questions))
    retriever.mode = "hybrid"
    latency["hybrid_answer"] = percentiles(timed(assistant.ask, questions))
    result["latency_ms"] = latency
    assistant = retriever = None  # type: ignore[assignment]  # free the loaded index before the rebuilds
    log("Kaltstart, Update, Neubau")
    env = dict(os.environ, ASSISTANT_MODEL="none", ASSISTANT_RETRIEVAL="lexical")
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "ask",
            questions[0],
            "--index",
            str(settings.index_dir),
            "--corpus",
            str(settings.corpus_dir),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    result["cold_start_s"] = round(time.perf_counter() - started, 2)
    changed = next(p for p in sorted(settings.corpus_dir.rglob("*.txt")))
    original = changed.read_text(encoding="utf-8")
    changed.write_text(original + "\n\nNachtrag zur Messung.", encoding="utf-8")
    started = time.perf_counter()
    build_index(settings, embedder=embedder)
    result["update_seconds"] = round(time.perf_counter() - started, 2)
    changed.write_text(original, encoding="utf-8")  # LangChain (below) sees the corpus the latencies saw
    if report.chunks > FULL_REBUILD_MAX_CHUNKS:
        build_index(settings, embedder=embedder)
    if report.chunks <= FULL_REBUILD_MAX_CHUNKS:
        started = time.perf_counter()
        build_index(settings, embedder=embedder, full=True)
        result["full_rebuild_seconds"] = round(time.perf_counter() - started, 2)
    else:
        result["full_rebuild_seconds"] = result["index_seconds"]  # the first build was a full one
    result["update_speedup"] = round(result["full_rebuild_seconds"] / max(result["update_seconds"], 1e-6), 1)
    # Ours only: building, querying, updating. LangChain's stack (next) holds its own copy of
    # every text and vector in memory and is reported apart.
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if langchain and report.chunks <= LANGCHAIN_MAX_CHUNKS:
        log("LangChain daneben")
        assistant = Assistant.open(settings, embedder=embedder)
        result["langchain"] = langchain_side_by_side(
            assistant.index, embedder, qa[:langchain_queries], assistant.retriever
        )
        result["langchain"]["peak_rss_mb_with_langchain"] = round(peak_rss_mb(), 1)
    elif langchain:
        result["langchain"] = {"skipped": f"über {LANGCHAIN_MAX_CHUNKS} Abschnitte nicht gemessen"}
    result["query_embedding_ms"] = query_embedding_ms(questions, log=log) if query_embedding else None
    if own_work:
        shutil.rmtree(work, ignore_errors=True)
    return result


def table(result: dict[str, Any]) -> str:
    """The figures as a small German text table."""
    lat = result["latency_ms"]
    lines = [
        f"Abschnitte {result['chunks']:>9}   Dokumente {result['documents']}",
        f"Indexieren {result['index_seconds']:>9.1f} s  ({result['index_chunks_per_s']:.0f} Abschnitte/s, "
        f"{result['index_bytes'] / 1e6:.0f} MB, Vektoren: {result['vectors']})",
        f"Parallel   {result['parallel_speedup']:>9.2f}x mit {result['index_workers']} Hilfsprozessen "
        f"(ein Prozess: {result['index_chunks_per_s_one_worker']:.0f} Abschnitte/s)",
        f"Speicher   {result['peak_rss_mb']:>9.0f} MB (Spitze)",
        "Latenz ms         p50      p95      p99",
    ]
    for mode in ("lexical", "dense", "hybrid", "hybrid_answer"):
        row = lat[mode]
        lines.append(f"  {mode:<14}{row['p50']:>7.1f}  {row['p95']:>7.1f}  {row['p99']:>7.1f}")
    lines.append(f"Kaltstart  {result['cold_start_s']:>9.2f} s (assistant ask, nur lexikalisch)")
    lines.append(
        f"Update     {result['update_seconds']:>9.2f} s (ein Dokument) gegen {result['full_rebuild_seconds']:.2f} s "
        f"(alles): {result['update_speedup']}x"
    )
    dense = result.get("dense_index") or {}
    if dense.get("kind"):
        recall = f", recall@10 {dense['recall_at_10']:.3f} gegen exakt" if dense.get("recall_at_10") else ""
        lines.append(f"FAISS      {dense['describe']}{recall}")
    side = result.get("langchain")
    if side and "skipped" not in side:
        lines.append(
            f"LangChain  hit@5 {side['hit_at_5']:.3f}, {side['queries_per_s']:.1f} Fragen/s"
            f" | wir hit@5 {side['ours']['hit_at_5']:.3f}, {side['ours']['queries_per_s']:.1f} Fragen/s"
            f" | Durchsatz {side['throughput_ratio']}x"
        )
    elif side:
        lines.append(f"LangChain  {side['skipped']}")
    embedding = result.get("query_embedding_ms")
    if embedding:
        lines.append(f"Abfrage-Einbettung ms ({embedding['model']}, {embedding['threads']} Threads)   p50      p95")
        for backend in BACKENDS:
            row = embedding.get(backend)
            if row and "p50" in row:
                lines.append(f"  {backend:<14}{row['p50']:>7.1f}  {row['p95']:>7.1f}")
            elif row:
                lines.append(f"  {backend:<14}{row['skipped']}")
    return "\n".join(lines)
