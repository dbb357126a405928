"""The evidence for an extractive answer: the sentences of the top passages as a candidate pool,
ranked by the fitted sentence model (:mod:`.ranker`, trained on GermanQuAD by
``evals/ranker/train.py``), the short answer the fitted span model finds in the best of them,
and the coverage of the best passage (the basis for abstaining).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..index.bm25 import LexicalIndex
from ..index.reader import IndexData
from ..ingest.dates import extract_dates
from ..search.query import GENERIC_WORDS, Intent
from ..text.sentences import sentence_spans
from ..types import Document, Hit
from .question import Question, analyze_question
from .ranker import AnswerRanker, default_ranker
from .sentence_features import SENTENCE_FEATURE_NAMES, SentenceInput
from .words import procedure_cues

# Passages whose sentences are candidates (plus the other chunks of the best document): the
# pool the rankers were trained on.
PASSAGES = 3
_COV_LOCAL = SENTENCE_FEATURE_NAMES.index("cov_local")
# A question noun no passage of the index contains weighs this much more in the coverage that
# decides abstaining ("Wie lautet die Telefonnummer von NIRO?"): set with the threshold by the
# sweep of evals/answers_germanquad.py (see evals/README.md).
UNKNOWN_NOUN_WEIGHT = 3.0
TOP_DOCUMENT_CHUNKS = 8
# "Wie kann man teilnehmen?": the sentence of the best STEP_DOCUMENTS documents that names the
# most words of procedures, at least MIN_STEP_CUES different ones (Schritt, Aufnahmeprozess,
# empfohlen, melden), is put first. The fitted model cannot learn it: GermanQuAD has 15 such
# questions, none about taking part, and the sentence that answers shares no word with the
# question. Three words, not two: on GermanQuAD two picked "… empfiehlt … eine tägliche Aufnahme
# von höchstens 2,25 mg Zink" for "Wie kann Zink nachgewiesen werden?"; the shipped corpus's
# admission sentence has four, the tests' "indem sie zunächst eine Projektskizze einreichen und
# danach den Antrag online stellen" five.
STEP_DOCUMENTS = 2
MIN_STEP_CUES = 3
# "Was ist COSME?": the sentence of the same documents that defines the subject ("COSME ist das
# EU-Programm …") first; for subjects of at most this many words, i.e. terms ("Was war das erste
# Stadion des FC Barcelona?" asks for a fact, no sentence opens with that phrase).
DEFINED_WORDS = 3
NEIGHBOUR_CHUNKS = 2  # in a longer document: the chunks this close to the best passage
# a digit, or a number written out ("zehn Cluster", "keine", "mehrere Millionen")
_NUMBER = re.compile(
    r"\d|\b(zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|vierzig|fünfzig|hundert|"
    r"tausend|dutzend|million\w*|milliard\w*|hälfte|drittel|viertel|mehrere|zahlreiche|kein\w*)\b",
    re.I,
)
_PLACE = re.compile(r"\b(in|an der|am|im|bei|nach|aus)\s+[A-ZÄÖÜ]")
_REASON = re.compile(
    r"\b(weil|denn|da sie|da er|da es|um\b.*\bzu|deshalb|daher|deswegen|aufgrund|wegen|dadurch|"
    r"so dass|sodass)\b",
    re.I,
)
_YEAR_QUESTION = re.compile(r"\b(welche[mn]? jahr|seit wann|bis wann|jahr(e|en)?\b)", re.I)
_NAME = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+\s+[A-ZÄÖÜ][a-zäöüß]+\b|\b[A-ZÄÖÜ]{2,}\b")


@dataclass
class Candidate:
    """A sentence that may answer the question, with its offsets in the document."""

    hit: Hit
    rank: int
    doc: Document
    start: int  # offsets in the document
    end: int
    text: str
    coverage: float  # local coverage of the question (the feature cov_local)
    score: float  # the fitted sentence model's score
    terms: set[str] = field(default_factory=set)
    index: int = -1  # in the pool


@dataclass(frozen=True)
class Ranking:
    """One question's pool with the fitted sentence model's features and scores."""

    question: Question
    pool: list[PoolSentence]
    features: np.ndarray
    scores: np.ndarray
    candidates: list[Candidate]  # best first
    # the sentence naming a procedure's steps, or the one defining what a definition question asks
    # about, is first: the short answer lies in it
    focused: bool = False


@dataclass(frozen=True)
class PoolSentence:
    """A sentence of the candidate pool: what the fitted rankers see (``input``) and where it is."""

    input: SentenceInput
    hit: Hit
    doc: Document
    start: int  # offsets in the document
    end: int


class Evidence:
    """Question weights, candidate sentences and passage coverage over one loaded index."""

    def __init__(self, index: IndexData, ranker: AnswerRanker | None = None) -> None:
        self.index = index
        self.lexical: LexicalIndex = index.lexical
        self._ranker = ranker

    @property
    def ranker(self) -> AnswerRanker:
        """The fitted models, loaded when first needed (building the training pool needs none:
        evals/ranker/train.py can then run while the shipped files have other features)."""
        if self._ranker is None:
            self._ranker = default_ranker()
        return self._ranker

    def question_weights(self, text: str) -> list[tuple[str, tuple[str, ...], float]]:
        """``(stem, parts, weight)`` per content word of the question; ``parts`` are the compound
        parts (all needed) with any alternative form (a participle's verb) appended after ``|``."""
        seen: set[str] = set()
        weights = []
        for word, stem, parts, alternatives in self.lexical.analyzer.word_terms(text):
            if stem in seen or word in GENERIC_WORDS:
                continue
            seen.add(stem)
            idf = min([self.lexical.idf(stem), *(self.lexical.idf(a) for a in alternatives)])
            weights.append((stem, parts + tuple("|" + a for a in alternatives), idf))
        return weights

    def pool(self, hits: list[Hit], passages: int = PASSAGES) -> list[PoolSentence]:
        """The candidate sentences, in pool order: those of the top ``passages`` passages and of
        the other chunks of the best document (:meth:`passages`), each once, without headlines.
        The rankers are trained on exactly this pool (evals/ranker/data.py)."""
        seen: set[tuple[str, int]] = set()
        out: list[PoolSentence] = []
        top_score = hits[0].score if hits and hits[0].score > 0 else 1.0
        for hit in self.passages(hits, passages):
            doc = self.index.documents[hit.chunk.doc_id]
            rank = hits.index(hit) if hit in hits else passages
            kept = 0
            for s, e in sentence_spans(hit.chunk.text):
                start, end = hit.chunk.start + s, hit.chunk.start + e
                if (doc.id, start) in seen:
                    continue
                seen.add((doc.id, start))
                text = doc.text[start:end]
                if _is_headline(text, doc) or _CREDIT.match(text):
                    continue
                sentence = SentenceInput(
                    text,
                    rank,
                    hit.score / top_score,
                    int(hit.chunk.row),
                    kept,
                    doc.id,
                    start / max(len(doc.text), 1),
                    hit.chunk.start == 0 and kept == 0,
                )
                out.append(PoolSentence(sentence, hit, doc, start, end))
                kept += 1
        return out

    def ranking(self, intent: Intent, hits: list[Hit], passages: int = PASSAGES) -> Ranking:
        """The pool's sentences ranked by the fitted sentence model, best first."""
        pool = self.pool(hits, passages) if hits else []
        question = analyze_question(intent.search_text, self.lexical, intent.kind)
        inputs = [p.input for p in pool]
        features, scores = self.ranker.sentence_scores(question, inputs, self.lexical)
        focused = False
        if intent.kind == "procedure" and pool:
            scores, focused = _steps_first(pool, scores, hits)
        elif intent.kind == "definition" and intent.subject and len(intent.subject.split()) <= DEFINED_WORDS and pool:
            scores, focused = _definition_first(pool, scores, hits, intent.subject)
        analyzer = self.lexical.analyzer
        candidates = [
            Candidate(
                p.hit,
                p.input.rank,
                p.doc,
                p.start,
                p.end,
                p.input.text,
                float(features[i, _COV_LOCAL]),
                float(scores[i]),
                set(analyzer.analyze(p.input.text)),
                i,
            )
            for i, p in enumerate(pool)
        ]
        order = sorted(range(len(pool)), key=lambda i: (-scores[i], i))
        return Ranking(question, pool, features, scores, [candidates[i] for i in order], focused)

    def candidates(self, intent: Intent, hits: list[Hit], passages: int = PASSAGES) -> list[Candidate]:
        """Sentences of the top passages, best first."""
        return self.ranking(intent, hits, passages).candidates

    def short_answer(self, ranking: Ranking) -> tuple[Candidate, int, str] | None:
        """The fitted span model's short answer: its sentence, its offset in the document and its
        text; None when no span scores above the model's threshold."""
        if not ranking.pool:
            return None
        inputs = [p.input for p in ranking.pool]
        # the steps or the definition are the answer: the short answer lies in that sentence
        ranker = replace(self.ranker, top_sentences=1) if ranking.focused else self.ranker
        choice, _ = ranker.short_answer(ranking.question, inputs, ranking.features, ranking.scores, self.lexical)
        if choice is None:
            return None
        sentence = next(c for c in ranking.candidates if c.index == choice.sentence)
        return sentence, sentence.start + choice.span.start, choice.text

    def second_share(self, ranking: Ranking) -> float:
        """The second-best sentence's softmax share relative to the best one's."""
        if len(ranking.candidates) < 2:
            return 0.0
        return math.exp(ranking.candidates[1].score - ranking.candidates[0].score)

    def passages(self, hits: list[Hit], passages: int) -> list[Hit]:
        """The top passages, plus the other chunks of the best document (its answer is often in
        a neighbouring chunk)."""
        chosen = list(hits[:passages])
        if hits and TOP_DOCUMENT_CHUNKS:
            taken = {h.chunk.row for h in chosen}
            rows: list[int] = [int(r) for r in self.index.doc_rows.get(hits[0].chunk.doc_id, ())]
            if len(rows) > TOP_DOCUMENT_CHUNKS:
                # A long document: its opening (title, date, place) and the neighbours of the
                # best passage; each chunk costs ~4 ms of sentence splitting the first time.
                at = int(hits[0].chunk.row) - rows[0]
                rows = [rows[0], *rows[max(1, at - NEIGHBOUR_CHUNKS) : at + NEIGHBOUR_CHUNKS + 1]]
            for row in rows[:TOP_DOCUMENT_CHUNKS]:
                chunk = self.index.chunks[int(row)]
                if chunk.row not in taken:
                    chosen.append(Hit(chunk, 0.0))
        return chosen

    def passage_coverage(self, intent: Intent, hits: list[Hit], passages: int = 2) -> float:
        """Share of the question's weight found in the best of the top passages: the evidence
        behind answering at all (a question's words are often spread over two sentences).
        Words carried over from the previous question count half."""
        nouns = self._unknown_nouns(intent.question)
        weights = [
            (s, p, w * (UNKNOWN_NOUN_WEIGHT if s in nouns else 1.0))
            for s, p, w in self.question_weights(intent.question)
        ]
        if intent.carried_terms:
            weights += [(s, p, 0.5 * w) for s, p, w in self.question_weights(" ".join(intent.carried_terms))]
        total = sum(w for _, _, w in weights)
        if not total:
            return 0.0
        best = 0.0
        for hit in hits[:passages]:
            terms = set(self.lexical.analyzer.analyze(hit.chunk.text))
            best = max(best, sum(w for stem, parts, w in weights if covers(terms, stem, parts)) / total)
        return best

    def _unknown_nouns(self, question: str) -> set[str]:
        """Stems of the question's nouns (capitalized, not first) that no passage of the index
        contains in any form: what the question asks about is then most likely not there
        ("Wie lautet die Telefonnummer von NIRO?")."""
        words = question.split()
        nouns = {w.strip("?!.,;:„“\"'()") for w in words[1:] if w[:1].isupper()}
        unknown: set[str] = set()
        for _word, stem, parts, alternatives in self.lexical.analyzer.word_terms(" ".join(nouns)):
            known = [stem, *alternatives, *(parts if parts else ())]
            if all(self.lexical.idf(t) >= self._max_idf for t in known):
                unknown.add(stem)
        return unknown

    @property
    def _max_idf(self) -> float:
        return self.lexical.idf("\u0000")


def _steps_first(pool: list[PoolSentence], scores: np.ndarray, hits: list[Hit]) -> tuple[np.ndarray, bool]:
    """``scores`` with the sentence that names the steps first (see :data:`MIN_STEP_CUES`), and
    whether there was one."""
    return _first(pool, scores, hits, procedure_cues, MIN_STEP_CUES)


def _definition_first(
    pool: list[PoolSentence], scores: np.ndarray, hits: list[Hit], subject: str
) -> tuple[np.ndarray, bool]:
    """``scores`` with the sentence that defines ``subject`` first (see :func:`_definition_pattern`)."""
    pattern = _definition_pattern(subject)
    return _first(pool, scores, hits, lambda text: int(bool(pattern.search(text))), 1)


def _first(
    pool: list[PoolSentence], scores: np.ndarray, hits: list[Hit], cues_of: Callable[[str], int], least: int
) -> tuple[np.ndarray, bool]:
    """``scores`` with the sentence of the best STEP_DOCUMENTS documents that has the most
    ``cues_of`` (at least ``least``; ties by score) raised above all others, and whether there
    was one."""
    documents = list(dict.fromkeys(h.chunk.doc_id for h in hits))[:STEP_DOCUMENTS]
    cues = [cues_of(p.input.text) if p.doc.id in documents else 0 for p in pool]
    best = max(range(len(pool)), key=lambda i: (cues[i], scores[i]))
    if cues[best] < least:
        return scores, False
    if best == int(np.argmax(scores)):
        return scores, True  # the fitted model's first already: its scores stay as they are
    raised = scores.copy()
    raised[best] = scores.max() + 1.0  # first, and clearly: the span model sees it as the best sentence
    return raised, True


def _definition_pattern(subject: str) -> re.Pattern[str]:
    """ "COSME ist das EU-Programm …", "Eine Wendelantenne ist …", "… vom Programm go-cluster, die
    clusterpolitische Exzellenzmaßnahme …": the subject opening a sentence before a copula
    (ist, sind, bezeichnet, gilt als, steht für, bedeutet), or followed by an apposition."""
    name = r"[„“\"»]?" + re.escape(subject) + r"[“”\"«]?"
    return re.compile(
        rf"^\W*(?:(?:der|die|das|ein|eine)\s+)?{name}(?:\s*\([^)]*\))?\s+"
        rf"(?:ist|sind|war|waren|bezeichnet|gilt als|steht für|bedeutet)\b|{name}\s*,\s*(?:der|die|das|ein|eine)\s",
        re.I,
    )


def has_type(intent: Intent, text: str) -> bool:
    """Whether ``text`` holds the kind of fact the question asks for: a date (not one the
    question names) for "Wann", a number for "Wie viele", a place for "Wo", a name for "Wer", a
    reason for "Warum". True for the other kinds."""
    if intent.kind == "when" or intent.about_dates:
        asked = {m.text for m in extract_dates(intent.question)}
        # a bare year answers "In welchem Jahr?", not "Wann?" ("ClusterERFOLG 2022" names no date)
        years = bool(_YEAR_QUESTION.search(intent.question))
        return any(m.text not in asked and (years or m.precision != "year") for m in extract_dates(text))
    pattern = {"number": _NUMBER, "where": _PLACE, "who": _NAME, "why": _REASON}.get(intent.kind)
    return pattern is None or bool(pattern.search(text))


_BARE_YEAR = re.compile(r"\b(1[0-9]|20)\d\d\b")


def has_count(text: str) -> bool:
    """Whether ``text`` names a number other than a year ("ClusterERFOLG 2022" counts nothing)."""
    return bool(_NUMBER.search(_BARE_YEAR.sub(" ", text)))


# A picture's credit line ("© BalticNet-PlasmaTec e.V. / Kinga Kristó", "Foto: …") names who took
# or owns the picture, never what a question asks; short and full of names, it outscored the text
# for "Wer ist der Geschäftsführer von BalticNet-PlasmaTec?".
_CREDIT = re.compile(r"\s*(©|\(c\)\s|copyright\b|fotos?\s*:|bild(er)?\s*:|bildquelle\b|quelle\s*:)", re.I)


def _is_headline(text: str, doc: Document) -> bool:
    """The title line says what the source card says already. A first sentence taken as the
    title of a document without a title line ends like a sentence, and stays a candidate."""
    return " ".join(text.split()) == " ".join(doc.title.split()) and not text.rstrip().endswith((".", "!", "?"))


def covers(terms: set[str], stem: str, parts: tuple[str, ...]) -> bool:
    if stem in terms:
        return True
    if len(stem) >= 6:  # derivations the stemmer keeps apart: "urbanisiert" ~ "urbanisierung"
        prefix = stem[: max(5, len(stem) - 3)]
        if any(t.startswith(prefix) for t in terms):
            return True
    if any(p[1:] in terms for p in parts if p.startswith("|")):
        return True
    compound = [p for p in parts if not p.startswith("|")]
    return bool(compound) and all(p in terms for p in compound)
