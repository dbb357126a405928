"""Evaluation harness: answer every question of a test set and measure retrieval, answers,
citations, abstention and latency, for one or several settings side by side.

    assistant eval TESTSET [--corpus DIR] [--index DIR] [--out DIR] [-k 10] [--set k=v,...] [--config F]

Per variant the run appends one line per question to ``results.jsonl`` (flushed each time), so an
interrupted run resumes where it stopped; ``settings.json`` beside it holds the run's signature
and guards against resuming with other settings. ``metrics.json``, ``report.md`` and
``report.html`` (see :mod:`.report`) summarize it. See evals/README.md for the definitions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..config import Settings
from ..errors import ConfigError, ResumeError, TestSetError
from ..index.format import CorpusRecord, current_generation
from ..pipeline import Assistant
from ..types import Answer
from .metrics import aggregate, group_fields, metrics_by_group, worst_misses
from .report import comparison_table, write_reports
from .testset import Question, load_testset, without_review
from .variants import Log, Variant, assign_index_dirs, prepare_indexes

# Settings that do not change what a question's result is (or must not be written to disk).
VOLATILE = frozenset({"progress", "llm_api_key", "index_dir", "corpus_dir", "hub_timeout", "embed_batch_size"})
RESULTS = "results.jsonl"
SETTINGS_FILE = "settings.json"
METRICS = "metrics.json"


_PACKAGE = Path(__file__).resolve().parents[1]


def code_digest(package: Path = _PACKAGE) -> str:
    """A digest of the assistant's code and shipped models: results of other code are not
    resumed as if they were this code's (a changed ranker would otherwise report old figures)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".json", ".txt") and p.is_file()):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def signature(settings: Settings, k: int, record: CorpusRecord, index_model: str | None, mode: str) -> dict[str, Any]:
    """What a question's result depends on: the settings, k, the documents' contents, the model
    the index was built with, the retrieval mode actually used and the code; one digest of it all."""
    values = {f.name: str(getattr(settings, f.name)) for f in fields(Settings) if f.name not in VOLATILE}
    docs = sorted((d, info["content_hash"]) for d, info in record.documents.items())
    values.update(
        {
            "k": str(k),
            "effective_mode": mode,
            "index_model": str(index_model),
            "corpus": hashlib.sha256(json.dumps(docs).encode()).hexdigest()[:16],
            "code": code_digest(),
        }
    )
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    return {"signature": digest, "values": values}


def _check_resume(folder: Path, current: dict[str, Any], fresh: bool) -> None:
    results, stored_file = folder / RESULTS, folder / SETTINGS_FILE
    if fresh:
        results.unlink(missing_ok=True)
        stored_file.unlink(missing_ok=True)
    if results.exists() and results.stat().st_size:
        try:
            stored = json.loads(stored_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            stored = None
        # "fingerprint": the same digest under its name before the runner was reorganised
        known = stored.get("signature", stored.get("fingerprint")) if isinstance(stored, dict) else None
        if known != current["signature"]:
            old = stored.get("values", {}) if isinstance(stored, dict) else {}
            diff = [f"{n}: {old.get(n, '?')} → {v}" for n, v in current["values"].items() if old.get(n) != v]
            detail = f" (geändert: {'; '.join(diff[:6])})" if diff and old else ""
            raise ResumeError(
                f"{results} stammt aus einem Lauf mit anderen Einstellungen{detail}. "
                "Mit --fresh neu beginnen oder ein anderes --out wählen."
            )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = stored_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, stored_file)


def load_results(path: Path, questions: Sequence[Question]) -> tuple[dict[str, dict[str, Any]], int]:
    """Rows already in ``results.jsonl`` that still match a question of the test set (same
    question and history); a torn last line from an interrupted run is dropped. Returns the rows
    by id and how many lines were dropped; rewrites the file when lines were dropped."""
    if not path.exists():
        return {}, 0
    wanted = {q.id: q for q in questions}
    rows: dict[str, dict[str, Any]] = {}
    lines = kept = 0
    keep_lines: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            lines += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            q = wanted.get(str(row.get("id"))) if isinstance(row, dict) else None
            if q is None or row.get("question") != q.question or list(row.get("history", [])) != list(q.history):
                continue
            rows[q.id] = row
            keep_lines.append(json.dumps(row, ensure_ascii=False))
            kept += 1
    if kept != lines or (lines and not _ends_with_newline(path)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(x + "\n" for x in keep_lines), encoding="utf-8")
        os.replace(tmp, path)
    return rows, lines - kept


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def result_row(q: Question, answer: Answer, latency_ms: float) -> dict[str, Any]:
    data = answer.to_json()
    row: dict[str, Any] = {"id": q.id, "question": q.question}
    if q.history:
        row["history"] = list(q.history)
    row.update(
        {
            "answer": data["answer"],
            "short_answer": data["short_answer"],
            "abstained": data["abstained"],
            "citations": data["citations"],
            "retrieved": [
                {"rank": i, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "score": round(float(h.score), 6)}
                for i, h in enumerate(answer.hits, start=1)
            ],
            "latency_ms": round(latency_ms, 3),
            "confidence": data.get("confidence"),
            "mode": data.get("mode"),
        }
    )
    if data.get("note"):
        row["note"] = data["note"]
    row["expected_answers"] = list(q.answers)
    row["expected_sources"] = list(q.sources)
    for name, value in q.extra.items():
        row[name if name not in row else f"field:{name}"] = value
    return row


def run_variant(
    assistant: Assistant,
    questions: Sequence[Question],
    folder: Path,
    done: dict[str, dict[str, Any]],
    name: str,
    progress: bool,
) -> dict[str, dict[str, Any]]:
    """Ask the questions not yet in ``done``, appending each result to ``results.jsonl`` at once."""

    todo = [q for q in questions if q.id not in done]
    if not todo:
        return done
    with (
        open(folder / RESULTS, "a", encoding="utf-8") as handle,
        tqdm(
            total=len(questions),
            initial=len(questions) - len(todo),
            desc=name,
            unit="Frage",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar,
    ):
        for q in todo:
            started = time.perf_counter()
            answer = assistant.ask(q.question, list(q.history))
            latency = 1000 * (time.perf_counter() - started)
            row = result_row(q, answer, latency)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            done[q.id] = row
            bar.update(1)
    return done


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    out_dir: Path
    files: list[Path]
    table: str


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower() or "variante"


def evaluate(
    testset: Path,
    variants: Sequence[Variant],
    out_dir: Path,
    k: int = 10,
    *,
    fresh: bool = False,
    progress: bool = False,
    worst: int = 10,
    group_by: Sequence[str] | None = None,
    limit: int = 0,
    report: bool = True,
    log: Log | None = None,
) -> EvalResult:
    """Run every variant over the test set in ``out_dir`` (resuming earlier results) and write
    metrics.json and, with ``report``, report.md/report.html with their plots."""
    log = log or (lambda message: None)
    if k < 1:
        raise ConfigError(f"k={k} muss mindestens 1 sein")
    questions, review = without_review(load_testset(testset))
    if review:
        shown = ", ".join(q.id for q in review[:5]) + (" …" if len(review) > 5 else "")
        log(f"{len(review)} Frage(n) zur Prüfung (review) übersprungen: {shown}")
    if not questions:
        raise TestSetError(f"{testset} enthält nur Fragen zur Prüfung (review); bitte zuerst Antworten eintragen")
    if limit:
        questions = questions[:limit]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    assign_index_dirs(variants, out_dir)
    prepared = prepare_indexes(variants, log)
    groups = group_fields(questions, group_by)
    started = time.perf_counter()
    summaries: list[dict[str, Any]] = []
    files: list[Path] = []
    folders: dict[str, Path] = {}
    latencies: dict[str, list[float]] = {}
    for v in variants:
        folder = out_dir if len(variants) == 1 else out_dir / slug(v.name)
        while folder in folders.values():
            folder = folder.with_name(folder.name + "-")
        folders[v.name] = folder
        assistant = Assistant.open(v.settings, embedder=prepared[str(v.settings.index_dir)].embedder)
        for warning in assistant.warnings:
            log(f"Warnung ({v.name}): {warning}")
        mode = assistant.retriever.effective_mode
        manifest, record = assistant.index.manifest, assistant.index.corpus_record()
        _check_resume(folder, signature(v.settings, k, record, manifest.model, mode), fresh)
        done, dropped = load_results(folder / RESULTS, questions)
        if dropped:
            log(f"{folder / RESULTS}: {dropped} unvollständige oder veraltete Zeile(n) verworfen")
        if done:
            log(f"{v.name}: {len(done)} von {len(questions)} Fragen schon beantwortet, setze fort")
        variant_started = time.perf_counter()
        done = run_variant(assistant, questions, folder, done, v.name, progress)
        pairs = [(q, done[q.id]) for q in questions]
        overall = aggregate(pairs, k)
        curve = overall.pop("hit_curve")
        summaries.append(
            {
                "name": v.name,
                "folder": str(folder),
                "results": str(folder / RESULTS),
                "settings": {
                    f.name: str(getattr(v.settings, f.name)) for f in fields(Settings) if f.name != "llm_api_key"
                },
                "effective_mode": mode,
                "index": {
                    "dir": str(v.settings.index_dir),
                    "generation": _generation_name(v.settings.index_dir),
                    "built": prepared[str(v.settings.index_dir)].built,
                    "documents": manifest.document_count,
                    "chunks": manifest.chunks,
                },
                "warnings": list(assistant.warnings),
                "seconds": round(time.perf_counter() - variant_started, 2),
                "overall": overall,
                "hit_curve": curve,
                "groups": metrics_by_group(pairs, groups, k),
                "worst": worst_misses(pairs, worst),
            }
        )
        latencies[v.name] = [float(done[q.id].get("latency_ms", 0.0)) for q in questions]
        files.append(folder / RESULTS)
    metrics = {
        "testset": str(testset),
        "questions": len(questions),
        "skipped_review": len(review),
        "k": k,
        "seconds": round(time.perf_counter() - started, 2),
        "group_fields": groups,
        "variants": summaries,
    }
    path = out_dir / METRICS
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    files.append(path)
    if report:
        files.extend(write_reports(metrics, out_dir, latencies))
    return EvalResult(metrics, out_dir, files, comparison_table(metrics))


def _generation_name(index_dir: Path) -> str | None:
    generation = current_generation(index_dir)
    return generation.name if generation else None
