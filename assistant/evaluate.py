"""Evaluation harness: answer every question of a test set and measure retrieval, answers,
citations, abstention and latency, for one or several settings side by side.

    assistant eval TESTSET [--corpus DIR] [--index DIR] [--out DIR] [-k 10] [--set k=v,...] [--config F]

A test set is JSONL (one object a line) or CSV (the same columns, lists separated by ``|``):
``id``, ``question``, ``answers`` (acceptable answer strings; empty = the corpus cannot answer it
and the assistant should abstain), ``sources`` (document ids), optional ``history`` (earlier
questions of the conversation) and any other field, kept and used to group the figures.

Per variant the run appends one line per question to ``results.jsonl`` (flushed each time), so an
interrupted run resumes where it stopped; ``settings.json`` beside it guards against resuming
with other settings. ``metrics.json``, ``report.md`` and ``report.html`` (see
:mod:`assistant.report`) summarize it. See evals/README.md for the definitions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .config import Settings, _read_toml
from .errors import AssistantError, ConfigError, EmbedderUnavailableError, TestSetError

REQUIRED = ("id", "question", "answers", "sources")
LIST_FIELDS = ("answers", "sources", "history")
CUTOFFS = (1, 5, 10)
# Settings that do not change what a question's result is (or must not be written to disk).
VOLATILE = frozenset({"progress", "llm_api_key", "index_dir", "corpus_dir", "hub_timeout", "embed_batch_size"})
MAX_GROUP_VALUES = 30
RESULTS = "results.jsonl"
SETTINGS_FILE = "settings.json"
METRICS = "metrics.json"

Log = Callable[[str], None]


class ResumeError(AssistantError):
    """Earlier results in the output folder were made with other settings."""


# --- text comparison -------------------------------------------------------------------------

def normalize(text: str) -> str:
    """Lower case, hyphens and punctuation as spaces, whitespace collapsed: "EU-Programm." ->
    "eu programm"."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


_MARKER = re.compile(r"\[\d+\]")


def contains_any(answer: str, golds: Iterable[str]) -> bool:
    """Whether the normalized answer contains one of the normalized gold strings."""
    text = normalize(answer)
    return any(g and g in text for g in (normalize(x) for x in golds))


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style bag-of-words F1 between two texts after :func:`normalize` (citation markers
    like ``[1]`` are removed from the prediction first)."""
    pred = normalize(_MARKER.sub(" ", prediction)).split()
    ref = normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# --- test sets -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    history: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_testset(path: Path) -> list[Question]:
    """Read a JSONL or CSV test set (by extension: ``.csv``/``.tsv`` are CSV, anything else
    JSONL). Raises :class:`TestSetError` naming the line of the first problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TestSetError(f"Testdatei {path} nicht gefunden") from None
    except OSError as exc:
        raise TestSetError(f"Testdatei {path} nicht lesbar: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TestSetError(f"{path}: kein UTF-8 ({exc})") from None
    suffix = path.suffix.lower()
    records = _csv_records(path, text, "\t" if suffix == ".tsv" else None) if suffix in (".csv", ".tsv") \
        else _jsonl_records(path, text)
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        q = _question(path, line, record)
        if q.id in first_line:
            raise TestSetError(f"{path}, Zeile {line}: id {q.id!r} kommt doppelt vor "
                               f"(zuerst in Zeile {first_line[q.id]})")
        first_line[q.id] = line
        questions.append(q)
    if not questions:
        raise TestSetError(f"{path} enthält keine Fragen")
    return questions


def _jsonl_records(path: Path, text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TestSetError(f"{path}, Zeile {number}: kein gültiges JSON ({exc.msg}, Spalte {exc.colno})") from None
        except RecursionError:
            raise TestSetError(f"{path}, Zeile {number}: JSON zu tief verschachtelt") from None
        except ValueError as exc:  # e.g. an integer with more than 4300 digits
            raise TestSetError(f"{path}, Zeile {number}: kein gültiges JSON ({exc})") from None
        if not isinstance(record, dict):
            raise TestSetError(f"{path}, Zeile {number}: erwartet ein JSON-Objekt, gefunden {type(record).__name__}")
        if "\\u" in line:  # an escaped lone surrogate ("\ud800") would fail writing results.jsonl later
            try:
                json.dumps(record, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise TestSetError(f"{path}, Zeile {number}: ungültiges Unicode (einzelnes Surrogat)") from None
            except RecursionError:
                raise TestSetError(f"{path}, Zeile {number}: JSON zu tief verschachtelt") from None
        yield number, record


def _csv_records(path: Path, text: str, delimiter: str | None) -> Iterable[tuple[int, dict[str, Any]]]:
    header = text.splitlines()[0] if text.strip() else ""
    if delimiter is None:  # comma, or semicolon as German spreadsheets write it
        delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise TestSetError(f"{path}, Zeile 1: Spalte(n) {', '.join(missing)} fehlen in der Kopfzeile "
                               f"(gefunden: {', '.join(columns) or 'keine'})")
        for row in reader:
            number = reader.line_num
            if None in row:
                raise TestSetError(f"{path}, Zeile {number}: mehr Werte als Spalten in der Kopfzeile")
            if all(v is None or not v.strip() for v in row.values()):
                continue
            absent = [c for c, v in row.items() if v is None]
            if absent:
                raise TestSetError(f"{path}, Zeile {number}: zu wenige Werte (es fehlen {', '.join(absent)})")
            record: dict[str, Any] = {}
            for name, value in row.items():
                if name in LIST_FIELDS:
                    record[name] = [p.strip() for p in value.split("|") if p.strip()]
                else:
                    record[name] = value
            yield number, record
    except csv.Error as exc:
        raise TestSetError(f"{path}, Zeile {reader.line_num}: ungültiges CSV ({exc})") from None


def _question(path: Path, line: int, record: dict[str, Any]) -> Question:
    where = f"{path}, Zeile {line}"
    missing = [f for f in REQUIRED if f not in record]
    if missing:
        raise TestSetError(f"{where}: Pflichtfeld(er) {', '.join(missing)} fehlen")
    qid = record["id"]
    if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
        raise TestSetError(f"{where}: 'id' muss ein nicht leerer Text oder eine Zahl sein")
    question = record["question"]
    if not isinstance(question, str) or not question.strip():
        raise TestSetError(f"{where}: 'question' muss ein nicht leerer Text sein")
    lists: dict[str, tuple[str, ...]] = {}
    for name in LIST_FIELDS:
        value = record.get(name, [])
        if value is None and name == "history":
            value = []
        # numbers are fine as answers ("answers": [80]); anything else is a mistake
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                  for v in value):
            raise TestSetError(f"{where}: '{name}' muss eine Liste von Texten sein")
        lists[name] = tuple(str(v) for v in value)
    extra = {k: v for k, v in record.items() if k not in REQUIRED and k != "history"}
    return Question(str(qid).strip(), question.strip(), lists["answers"], lists["sources"], lists["history"],
                    extra, line)


# --- per-question scores ---------------------------------------------------------------------

def doc_ranking(retrieved: Sequence[dict[str, Any]]) -> list[str]:
    """Document ids in order of their first appearance in the ranked chunk list."""
    seen: dict[str, None] = {}
    for item in retrieved:
        seen.setdefault(item["doc_id"], None)
    return list(seen)


def ndcg(ranking: Sequence[str], gold: set[str], cutoff: int = 10) -> float:
    """Binary-relevance nDCG@cutoff over a deduplicated document ranking."""
    if not gold:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranking[:cutoff]) if d in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), cutoff)))
    return dcg / ideal


def score_question(q: Question, row: dict[str, Any]) -> dict[str, Any]:
    """Scores of one answered question: the gold document's rank, nDCG@10, containment, F1,
    citation precision, whether it was right (contained, or abstained when unanswerable)."""
    gold = set(q.sources)
    ranking = doc_ranking(row.get("retrieved", []))
    rank = next((i for i, d in enumerate(ranking, start=1) if d in gold), None)
    abstained = bool(row.get("abstained"))
    answer = row.get("answer", "")
    cited = list(dict.fromkeys(c["doc_id"] for c in row.get("citations", [])))
    scores: dict[str, Any] = {"answerable": q.answerable, "abstained": abstained}
    if q.answerable:
        scores["gold_rank"] = rank if gold else None
        scores["ndcg@10"] = ndcg(ranking, gold) if gold else None
        scores["contained"] = (not abstained) and contains_any(answer, q.answers)
        scores["f1"] = 0.0 if abstained else max(token_f1(answer, g) for g in q.answers)
        scores["citation_precision"] = (sum(d in gold for d in cited) / len(cited)) if cited and gold else None
        scores["first_citation_gold"] = bool(cited) and row["citations"][0]["doc_id"] in gold
        scores["correct"] = scores["contained"]
    else:
        scores["correct"] = abstained
    return scores


# --- aggregation -----------------------------------------------------------------------------

def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolation percentile (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def aggregate(pairs: Sequence[tuple[Question, dict[str, Any]]], k: int = 10) -> dict[str, Any]:
    """The figures over ``(question, result row)`` pairs: retrieval and answer metrics over the
    answerable questions, abstention over all, latency over all."""
    scored = [(q, row, score_question(q, row)) for q, row in pairs]
    answerable = [s for q, _, s in scored if q.answerable]
    with_gold = [s for q, _, s in scored if q.answerable and q.sources]
    unanswerable = [s for q, _, s in scored if not q.answerable]
    abstained = [s for _, _, s in scored if s["abstained"]]
    result: dict[str, Any] = {"questions": len(scored), "answerable": len(answerable),
                              "unanswerable": len(unanswerable)}
    for cutoff in CUTOFFS:
        result[f"hit@{cutoff}"] = _mean([float(s["gold_rank"] is not None and s["gold_rank"] <= cutoff)
                                         for s in with_gold])
    result["mrr@10"] = _mean([1.0 / s["gold_rank"] if s["gold_rank"] and s["gold_rank"] <= 10 else 0.0
                              for s in with_gold])
    result["ndcg@10"] = _mean([s["ndcg@10"] for s in with_gold])
    result["answered"] = _mean([float(not s["abstained"]) for s in answerable])
    result["containment"] = _mean([float(s["contained"]) for s in answerable])
    result["token_f1"] = _mean([s["f1"] for s in answerable])
    result["citation_precision"] = _mean([s["citation_precision"] for s in answerable
                                          if s["citation_precision"] is not None])
    result["first_citation_gold"] = _mean([float(s["first_citation_gold"]) for s in with_gold])
    right = sum(1 for s in unanswerable if s["abstained"])
    # Without unanswerable questions every abstention is wrong; "answered" says that already.
    result["abstention_precision"] = round(right / len(abstained), 4) if abstained and unanswerable else None
    result["abstention_recall"] = round(right / len(unanswerable), 4) if unanswerable else None
    result["correct"] = _mean([float(s["correct"]) for _, _, s in scored])
    latencies = [float(row.get("latency_ms", 0.0)) for _, row, _ in scored]
    for p in (50, 95):
        value = percentile(latencies, p)
        result[f"latency_p{p}_ms"] = round(value, 2) if value is not None else None
    result["hit_curve"] = [_mean([float(s["gold_rank"] is not None and s["gold_rank"] <= c) for s in with_gold])
                           for c in range(1, max(k, 10) + 1)]
    return result


def group_fields(questions: Sequence[Question], requested: Sequence[str] | None = None) -> list[str]:
    """Fields to group the figures by: the requested ones, else ``category`` and every other
    extra field with few distinct scalar values (ids, free texts and lists are left out)."""
    if requested is not None:
        return list(requested)
    names: list[str] = []
    for q in questions:
        names.extend(n for n in q.extra if n not in names)
    chosen = []
    for name in names:
        values = [q.extra.get(name) for q in questions]
        if not all(v is None or isinstance(v, (str, int, float, bool)) for v in values):
            continue
        distinct = {v for v in values if v is not None}
        if name == "category" or (distinct and len(distinct) <= MAX_GROUP_VALUES and len(distinct) < len(questions)
                                  and len(distinct) < max(2, len(questions) // 2)):
            chosen.append(name)
    return chosen


def group_value(q: Question, name: str) -> str:
    value = q.extra.get(name)
    return "(none)" if value is None or value == "" else str(value)


def metrics_by_group(pairs: Sequence[tuple[Question, dict[str, Any]]], names: Sequence[str],
                     k: int = 10) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        buckets: dict[str, list[tuple[Question, dict[str, Any]]]] = {}
        for q, row in pairs:
            buckets.setdefault(group_value(q, name), []).append((q, row))
        groups[name] = {value: _without_curve(aggregate(items, k)) for value, items in buckets.items()}
    return groups


def _without_curve(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "hit_curve"}


def worst_misses(pairs: Sequence[tuple[Question, dict[str, Any]]], limit: int = 10) -> list[dict[str, Any]]:
    """The questions answered worst: the gold document not retrieved, then wrong answers, then
    wrongful abstentions, then answers to unanswerable questions; lowest F1 first within each."""
    misses = []
    for q, row in pairs:
        s = score_question(q, row)
        if s["correct"]:
            continue
        if not q.answerable:
            kind, order = "answered, but unanswerable", 3
        elif q.sources and s["gold_rank"] is None:
            kind, order = "gold document not retrieved", 0
        elif s["abstained"]:
            kind, order = "abstained, but answerable", 2
        else:
            kind, order = "answer does not contain a gold answer", 1
        misses.append((order, s.get("f1", 0.0), q.line, {
            "id": q.id, "question": q.question, "kind": kind, "expected": list(q.answers),
            "expected_sources": list(q.sources), "answer": row.get("answer", ""),
            "cited": list(dict.fromkeys(c["doc_id"] for c in row.get("citations", []))),
            "retrieved": doc_ranking(row.get("retrieved", []))[:5], "gold_rank": s.get("gold_rank"),
            "f1": round(s.get("f1", 0.0), 3), **{f"field:{k}": v for k, v in q.extra.items()}}))
    misses.sort(key=lambda m: (m[0], m[1], m[2]))
    return [m[3] for m in misses[:limit]]


# --- variants --------------------------------------------------------------------------------

@dataclass
class Variant:
    name: str
    settings: Settings
    own_index: bool = False  # the variant names its own index folder (in its --set or config file)
    base: Settings | None = None  # the settings without the variant's changes
    index_flag: bool = False  # the index folder was given on the command line


def parse_set(text: str) -> dict[str, str]:
    """``"retrieval=hybrid,top_k=5"`` -> ``{"retrieval": "hybrid", "top_k": "5"}``."""
    changes: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"--set {text!r}: {part!r} ist kein Paar Name=Wert")
        name, value = (x.strip() for x in part.split("=", 1))
        if not name:
            raise ConfigError(f"--set {text!r}: Name fehlt vor '='")
        changes[name] = value
    return changes


def make_variants(sets: Sequence[str] = (), configs: Sequence[Path] = (), k: int = 10,
                  env: dict[str, str] | None = None, **overrides: Any) -> list[Variant]:
    """One variant per ``--set`` and per ``--config`` file (none given: the settings as they are).
    ``overrides`` are the command-line flags (corpus_dir, index_dir, model); ``k`` is every
    variant's top_k unless the variant sets top_k itself."""
    overrides = {n: v for n, v in overrides.items() if v is not None}
    base = Settings.load(env=env, **overrides)
    variants: list[Variant] = []
    flag = "index_dir" in overrides
    for path in configs:
        explicit = _read_toml(Path(path))
        settings = Settings.load(config_file=Path(path), env=env, **overrides)
        if "top_k" not in explicit:
            settings = settings.replace(top_k=k)
        variants.append(Variant(Path(path).stem, settings, "index_dir" in explicit and not flag, base, flag))
    for text in sets:
        changes = parse_set(text)
        if "top_k" not in changes:
            changes["top_k"] = str(k)
        variants.append(Variant(text.strip() or "standard", base.replace(**changes), "index_dir" in changes,
                                base, flag))
    if not variants:
        variants.append(Variant("standard", base.replace(top_k=k), False, base, flag))
    names: Counter[str] = Counter()
    for v in variants:
        names[v.name] += 1
        if names[v.name] > 1:
            v.name = f"{v.name} #{names[v.name]}"
    return variants


def _index_key(settings: Settings) -> tuple[str, int, int, str]:
    return (str(settings.corpus_dir.resolve()), settings.chunk_size, settings.chunk_overlap, settings.model)


def assign_index_dirs(variants: Sequence[Variant], out_dir: Path) -> None:
    """Variants with the corpus, chunking and model of the base settings share the base index
    folder; the others get one of their own, ``<out>/index-<hash>``. Without --index, a corpus
    other than the shipped one is indexed in ``<out>/index``, never in the default ``index/``."""
    if not variants:
        return
    default = Settings()
    base = variants[0].base or variants[0].settings
    base_dir = base.index_dir
    if not variants[0].index_flag and base.index_dir == default.index_dir \
            and base.corpus_dir.resolve() != default.corpus_dir.resolve():
        base_dir = out_dir / "index"
    base_key = _index_key(base)
    for v in variants:
        if v.own_index:
            continue
        key = _index_key(v.settings)
        if key == base_key:
            v.settings = v.settings.replace(index_dir=base_dir)
        else:
            digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:8]
            v.settings = v.settings.replace(index_dir=out_dir / f"index-{digest}")


# --- index preparation -----------------------------------------------------------------------

def wants_dense(settings: Settings) -> bool:
    return settings.retrieval != "lexical" and settings.dense_enabled


def index_needs_build(settings: Settings, embedder: Any | None = None) -> str | None:
    """Why the index in ``settings.index_dir`` must be (re)built for ``settings``, or None."""
    from .pipeline import same_model, staleness
    from .store import current_generation, read_manifest

    if current_generation(settings.index_dir) is None:
        return "noch kein Index"
    try:
        manifest = read_manifest(settings.index_dir)
    except AssistantError as exc:
        return f"Index nicht lesbar ({exc})"
    if (manifest.get("chunk_size"), manifest.get("chunk_overlap")) != (settings.chunk_size, settings.chunk_overlap):
        return "andere Chunk-Einstellungen"
    corpus = settings.corpus_dir.resolve()
    recorded = manifest.get("corpus_path")
    if recorded is None or Path(recorded) != corpus:
        return f"Index gehört zu einem anderen Korpus ({recorded})"
    if manifest.get("fingerprint") is None:
        return "Index ohne Fingerabdruck des Korpus"
    stale = staleness(settings, manifest)
    if stale:
        return "Korpus geändert"
    if embedder is not None and not (manifest.get("dense") and same_model(manifest.get("model"), settings.model)):
        return f"Vektoren für {settings.model} fehlen"
    return None


def prepare_indexes(variants: Sequence[Variant], log: Log) -> dict[str, Any]:
    """Build each index folder the variants use when it is missing or stale; load each embedding
    model once. Returns ``{index_dir: {"built": reason or None, "embedder": ...}}``."""
    from .embedder import load_embedder
    from .indexing import build_index
    from .store import current_generation, read_manifest

    embedders: dict[str, Any] = {}
    prepared: dict[str, Any] = {}
    for v in variants:
        s = v.settings
        key = str(s.index_dir)
        if key in prepared:
            continue
        users = [u.settings for u in variants if str(u.settings.index_dir) == key]
        dense = any(wants_dense(u) for u in users)
        embedder = None
        if dense:
            if s.model not in embedders:
                try:
                    embedders[s.model] = load_embedder(s.model, s.query_prefix, s.passage_prefix, s.embed_batch_size,
                                                       s.hub_timeout, progress=False)
                except EmbedderUnavailableError as exc:
                    log(f"Warnung: {exc}")
                    embedders[s.model] = None
            embedder = embedders[s.model]
        reason = index_needs_build(s, embedder)
        if reason:
            build = s
            has_dense = False
            if current_generation(s.index_dir) is not None:
                try:
                    has_dense = bool(read_manifest(s.index_dir).get("dense"))
                except AssistantError:
                    pass
            if embedder is None and not has_dense:
                build = s.replace(model="none")  # no vectors wanted or possible: don't try again
            log(f"Index {s.index_dir} wird gebaut ({reason}) …")
            report = build_index(build.replace(progress=False), embedder=embedder)
            for warning in report.warnings:
                log(f"Warnung: {warning}")
            log(f"Index {s.index_dir}: {report.documents} Dokumente, {report.chunks} Abschnitte, "
                f"{report.seconds:.1f} s")
        prepared[key] = {"built": reason, "embedder": embedder}
    return prepared


# --- running ---------------------------------------------------------------------------------

def fingerprint(settings: Settings, k: int, manifest: dict[str, Any], mode: str) -> dict[str, Any]:
    """What a question's result depends on: the settings, k, the documents' contents and the
    retrieval mode actually used."""
    values = {f.name: str(getattr(settings, f.name)) for f in fields(Settings) if f.name not in VOLATILE}
    docs = sorted((d, info.get("content_hash")) for d, info in manifest.get("documents", {}).items())
    values.update({"k": str(k), "effective_mode": mode, "index_model": str(manifest.get("model")),
                   "corpus": hashlib.sha256(json.dumps(docs).encode()).hexdigest()[:16]})
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    return {"fingerprint": digest, "values": values}


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
        if not isinstance(stored, dict) or stored.get("fingerprint") != current["fingerprint"]:
            old = stored.get("values", {}) if isinstance(stored, dict) else {}
            diff = [f"{n}: {old.get(n, '?')} → {v}" for n, v in current["values"].items() if old.get(n) != v]
            detail = f" (geändert: {'; '.join(diff[:6])})" if diff and old else ""
            raise ResumeError(
                f"{results} stammt aus einem Lauf mit anderen Einstellungen{detail}. "
                "Mit --fresh neu beginnen oder ein anderes --out wählen.")
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


def result_row(q: Question, answer: Any, latency_ms: float) -> dict[str, Any]:
    data = answer.to_json()
    row: dict[str, Any] = {"id": q.id, "question": q.question}
    if q.history:
        row["history"] = list(q.history)
    row.update({
        "answer": data["answer"], "abstained": data["abstained"], "citations": data["citations"],
        "retrieved": [{"rank": i, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "score": round(float(h.score), 6)}
                      for i, h in enumerate(answer.hits, start=1)],
        "latency_ms": round(latency_ms, 3), "confidence": data.get("confidence"), "mode": data.get("mode"),
    })
    if data.get("note"):
        row["note"] = data["note"]
    row["expected_answers"] = list(q.answers)
    row["expected_sources"] = list(q.sources)
    for name, value in q.extra.items():
        row[name if name not in row else f"field:{name}"] = value
    return row


def run_variant(assistant: Any, questions: Sequence[Question], folder: Path, done: dict[str, dict[str, Any]],
                name: str, progress: bool) -> dict[str, dict[str, Any]]:
    """Ask the questions not yet in ``done``, appending each result to ``results.jsonl`` at once."""
    from tqdm import tqdm

    todo = [q for q in questions if q.id not in done]
    if not todo:
        return done
    with open(folder / RESULTS, "a", encoding="utf-8") as handle, \
            tqdm(total=len(questions), initial=len(questions) - len(todo), desc=name, unit="Frage",
                 file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
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


def evaluate(testset: Path, variants: Sequence[Variant], out_dir: Path, k: int = 10, *, fresh: bool = False,
             progress: bool = False, worst: int = 10, group_by: Sequence[str] | None = None, limit: int = 0,
             report: bool = True, log: Log | None = None) -> EvalResult:
    """Run every variant over the test set in ``out_dir`` (resuming earlier results) and write
    metrics.json and, with ``report``, report.md/report.html with their plots."""
    from .pipeline import Assistant
    from .store import read_manifest

    log = log or (lambda message: print(message, file=sys.stderr))
    if k < 1:
        raise ConfigError(f"k={k} muss mindestens 1 sein")
    questions = load_testset(testset)
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
        assistant = Assistant.open(v.settings, embedder=prepared[str(v.settings.index_dir)]["embedder"])
        for warning in assistant.warnings:
            log(f"Warnung ({v.name}): {warning}")
        mode = assistant.retriever.effective_mode
        manifest = read_manifest(v.settings.index_dir)
        _check_resume(folder, fingerprint(v.settings, k, manifest, mode), fresh)
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
        summaries.append({
            "name": v.name, "folder": str(folder), "results": str(folder / RESULTS),
            "settings": {f.name: str(getattr(v.settings, f.name)) for f in fields(Settings)
                         if f.name != "llm_api_key"},
            "effective_mode": mode, "index": {"dir": str(v.settings.index_dir),
                                              "generation": _generation_name(v.settings.index_dir),
                                              "built": prepared[str(v.settings.index_dir)]["built"],
                                              "documents": len(manifest.get("documents", {})),
                                              "chunks": manifest.get("chunks")},
            "warnings": list(assistant.warnings), "seconds": round(time.perf_counter() - variant_started, 2),
            "overall": overall, "hit_curve": curve, "groups": metrics_by_group(pairs, groups, k),
            "worst": worst_misses(pairs, worst),
        })
        latencies[v.name] = [float(done[q.id].get("latency_ms", 0.0)) for q in questions]
        files.append(folder / RESULTS)
    metrics = {"testset": str(testset), "questions": len(questions), "k": k,
               "seconds": round(time.perf_counter() - started, 2), "group_fields": groups, "variants": summaries}
    path = out_dir / METRICS
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    files.append(path)
    if report:
        from .report import write_reports

        files.extend(write_reports(metrics, out_dir, latencies))
    return EvalResult(metrics, out_dir, files, comparison_table(metrics))


def _generation_name(index_dir: Path) -> str | None:
    from .store import current_generation

    generation = current_generation(index_dir)
    return generation.name if generation else None


# --- tables ----------------------------------------------------------------------------------

TABLE_COLUMNS = (("hit@1", "hit@1"), ("hit@5", "hit@5"), ("hit@10", "hit@10"), ("mrr@10", "MRR@10"),
                 ("ndcg@10", "nDCG@10"), ("containment", "contain"), ("token_f1", "F1"),
                 ("citation_precision", "cit.prec"), ("abstention_precision", "abst.P"),
                 ("abstention_recall", "abst.R"), ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms"))


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def table_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["variant", "n", *(label for _, label in TABLE_COLUMNS)]
    rows = [[v["name"], str(v["overall"]["questions"]), *(fmt(v["overall"].get(key)) for key, _ in TABLE_COLUMNS)]
            for v in metrics["variants"]]
    return header, rows


def comparison_table(metrics: dict[str, Any]) -> str:
    """The variants side by side as a plain-text table."""
    header, rows = table_rows(metrics)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
