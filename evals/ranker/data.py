"""GermanQuAD as ranking data: for every question the candidate sentences the current answerer
considers (end to end, and with the gold passage given), their features and labels, and the
current heuristic's choice; plus the SQuAD-style scores used throughout.

It drives the project's own pipeline (index, retrieval, the answerer's candidate pool:
:meth:`assistant.answer.candidates.Evidence.pool`), so the models are fitted on what they score
at answer time. The baseline is the sentence with the highest local coverage of the question.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.answer.candidates import Evidence
from assistant.answer.question import Question, analyze_question
from assistant.answer.sentence_features import SENTENCE_FEATURE_NAMES, SentenceInput, sentence_features
from assistant.config import Settings
from assistant.eval.metrics import bag_f1, normalize_answer
from assistant.eval.metrics import normalize as project_normalize
from assistant.index.build import build_index
from assistant.pipeline import Assistant
from assistant.search.query import understand
from assistant.types import Hit, SearchFilters

COV_LOCAL = SENTENCE_FEATURE_NAMES.index("cov_local")

# --- scores ---------------------------------------------------------------------------------


def f1_score(prediction: str, gold: str) -> float:
    """Bag-of-words F1 of two texts already normalized by :func:`normalize_answer`."""
    return bag_f1(prediction.split(), gold.split())


def best_scores(prediction: str, golds: Sequence[str]) -> tuple[float, float]:
    """(exact match, F1) of a raw prediction, max over normalized ``golds``: the harness's
    normalisation (:func:`assistant.eval.metrics.normalize_answer`)."""
    norm = normalize_answer(prediction)
    return max(float(norm == g) for g in golds), max(f1_score(norm, g) for g in golds)


def contains(text: str, golds: Sequence[str]) -> bool:
    """A normalized gold string occurs in the normalized text (SQuAD-style normalization)."""
    norm = f" {normalize_answer(text)} "
    return any(f" {g} " in norm for g in golds if g)


def contains_project(text: str, answers: Iterable[str]) -> bool:
    """The check of evals/answers_germanquad.py (assistant.evaluate.normalize, substring)."""
    norm = project_normalize(text)
    return any(project_normalize(a) in norm for a in answers if project_normalize(a))


# --- data -----------------------------------------------------------------------------------


@dataclass
class Pool:
    """The candidate sentences of one question under one retrieval."""

    sentences: list[SentenceInput]
    features: np.ndarray
    label: np.ndarray  # bool per sentence: it contains a gold answer
    heuristic_top: int  # pool index of the baseline's sentence, the best local coverage (-1: none)
    heuristic_text: str  # the baseline's answer: that sentence
    heuristic_quotes: str  # the same
    gold_doc_in_pool: bool


@dataclass
class Item:
    qid: str
    question: Question
    answers: list[str]
    golds: list[str]  # normalized
    article: int  # AAA of gq-AAA-PP.txt
    e2e: Pool
    oracle: Pool


def article_of(source: str) -> int:
    match = re.match(r"gq-(\d+)-\d+\.txt$", source)
    if not match:
        raise ValueError(f"unexpected GermanQuAD file name {source!r}")
    return int(match.group(1))


def open_index(corpus: Path, folder: Path) -> Assistant:
    settings = Settings(corpus_dir=corpus, index_dir=folder, model="none", retrieval="lexical", top_k=5, progress=False)
    build_index(settings)
    return Assistant.open(settings)


def make_pool(
    assistant: Assistant, evidence: Evidence, hits: list[Hit], question: Question, golds: list[str], sources: list[str]
) -> Pool:
    sentences = [p.input for p in evidence.pool(hits)] if hits else []
    features = sentence_features(question, sentences, assistant.index.lexical)
    label = np.array([contains(s.text, golds) for s in sentences], dtype=bool)
    baseline = int(np.argmax(features[:, COV_LOCAL])) if len(sentences) else -1
    text = sentences[baseline].text if baseline >= 0 else ""
    return Pool(sentences, features, label, baseline, text, text, any(s.doc_id in sources for s in sentences))


def oracle_hits(assistant: Assistant, search_text: str, sources: list[str]) -> list[Hit]:
    """The gold document's chunks, best first (all of them with score 0 when none matches)."""
    hits = assistant.retriever.search(search_text, 5, SearchFilters(doc_ids=frozenset(sources)))
    if hits:
        return hits
    rows = [r for s in sources for r in assistant.index.doc_rows.get(s, ())]
    return [Hit(assistant.index.chunks[int(r)], 0.0) for r in rows[:5]]


def load_items(data: Path, limit: int = 0, log=print) -> tuple[list[Item], Assistant]:
    questions = [json.loads(line) for line in (data / "qa.jsonl").open(encoding="utf-8")]
    if limit:
        questions = questions[:limit]
    folder = Path(tempfile.mkdtemp(prefix="ranker-index-"))
    assistant = open_index(data / "corpus", folder / "gq")
    evidence = Evidence(assistant.index)
    lexical = assistant.index.lexical
    items: list[Item] = []
    for n, q in enumerate(questions, 1):
        intent = understand(q["question"])
        question = analyze_question(intent.search_text, lexical, intent.kind)
        golds = [g for g in (normalize_answer(a) for a in q["answers"]) if g]
        e2e = make_pool(assistant, evidence, assistant.retrieve(intent), question, golds, q["sources"])
        oracle = make_pool(
            assistant, evidence, oracle_hits(assistant, intent.search_text, q["sources"]), question, golds, q["sources"]
        )
        items.append(Item(q["id"], question, q["answers"], golds, article_of(q["sources"][0]), e2e, oracle))
        if n % 500 == 0:
            log(f"  {n}/{len(questions)} questions")
    return items, assistant
