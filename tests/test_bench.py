"""Smoke test of `assistant bench` at the smallest size: it runs end to end and reports every
figure the scale issue asks for. Not a timing test: no figure is compared with a target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.bench.scale import DEFAULT_DATA, SyntheticEmbedder, grow_corpus
from assistant.cli import main

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA / "germanquad" / "qa.jsonl").is_file(), reason=f"Messdaten fehlen in {DEFAULT_DATA}"
)


def test_bench_reports_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--chunks", "2000", "--queries", "20", "--langchain-queries", "20", "--json", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    for key in (
        "chunks",
        "index_seconds",
        "index_chunks_per_s",
        "index_bytes",
        "peak_rss_mb",
        "cold_start_s",
        "update_seconds",
        "full_rebuild_seconds",
        "update_speedup",
        "index_workers",
        "index_chunks_per_s_one_worker",
        "parallel_speedup",
    ):
        assert isinstance(result[key], (int, float)) and result[key] > 0, key
    assert result["chunks"] >= 2000
    for mode in ("lexical", "dense", "hybrid", "hybrid_answer"):
        assert set(result["latency_ms"][mode]) == {"p50", "p95", "p99"}
    side = result["langchain"]
    assert 0 <= side["hit_at_5"] <= 1 and 0 <= side["ours"]["hit_at_5"] <= 1
    assert side["throughput_ratio"] > 0 and side["queries_per_s"] > 0
    assert result["dense_index"]["kind"] == "flat"
    embedding = result["query_embedding_ms"]
    for backend in ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8"):
        assert set(embedding[backend]) == {"p50", "p95", "p99"}, backend
        assert 0 < embedding[backend]["p50"] <= embedding[backend]["p95"], backend
    out_text = capsys.readouterr().out
    assert "LangChain" in out_text and "Abfrage-Einbettung" in out_text and "onnx-int8" in out_text


def test_grown_corpus_keeps_the_germanquad_passages_and_adds_news(tmp_path: Path) -> None:
    files = grow_corpus(tmp_path / "c", 5000, DEFAULT_DATA, chunk_size=1000)
    assert (tmp_path / "c" / "gq-000-00.txt").is_file()
    assert files == len(list((tmp_path / "c").rglob("*.txt"))) and files > 474


def test_synthetic_vectors_are_unit_length_and_deterministic() -> None:
    first = SyntheticEmbedder().encode_passages(["Förderprogramm für KMU", "Jahrestreffen 2022"])
    again = SyntheticEmbedder().encode_passages(["Förderprogramm für KMU", "Jahrestreffen 2022"])
    assert first.shape == (2, 384)
    assert abs(float((first**2).sum(axis=1)[0]) - 1.0) < 1e-5
    assert (first == again).all()
