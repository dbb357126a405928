"""From settings to answers: open the index, pick the retrievers, search (and, later, answer).

One question's path: :meth:`Assistant.search` -> :class:`~assistant.retrieval.Retriever` ->
BM25 (:mod:`assistant.lexical`) and FAISS (:mod:`assistant.store`) -> fused :class:`Hit` list.
"""

from __future__ import annotations

import logging
from pathlib import Path
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .answer import Answer, ExtractiveAnswerer, PASSAGES
from .config import Settings
from .embedder import Embedder, load_embedder
from .errors import EmbedderUnavailableError, IndexMismatchError
from .lexical import ANALYZER_VERSION
from .llm import LLMConfig, LLMError, build_messages, compose_checked, stream_chat
from .loaders import corpus_fingerprint
from .retrieval import Retriever
from .store import IndexData, fingerprint_digest, load_index
from .query import Intent, understand
from .types import Hit, SearchFilters

log = logging.getLogger(__name__)
PASSAGES_FOR_LLM = 5


def question_with_context(intent: Intent) -> str:
    """The question as sent to a language model; a follow-up names what it follows up on."""
    if intent.follow_up and intent.carried_terms:
        return f"{intent.question} (Bezug: {' '.join(intent.carried_terms)})"
    return intent.question


@dataclass
class Assistant:
    settings: Settings
    index: IndexData
    retriever: Retriever
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> "Assistant":
        """Load the index in ``settings.index_dir`` and the embedder it was built with."""
        index = load_index(settings.index_dir, doc_weight=settings.doc_weight)
        warnings: list[str] = []
        built_with = index.manifest.get("model")
        wants_dense = settings.retrieval != "lexical" and settings.dense_enabled
        if index.has_dense and wants_dense and not same_model(built_with, settings.model):
            raise IndexMismatchError(
                f"Der Index in {settings.index_dir} wurde mit dem Modell {built_with!r} gebaut, eingestellt "
                f"ist {settings.model!r}. Entweder `assistant index` neu ausführen oder --model {built_with} "
                "angeben.")
        if wants_dense and not index.has_dense:
            warnings.append("Der Index enthält keine Vektoren (ohne Einbettungsmodell gebaut); "
                            "gesucht wird nur lexikalisch.")
        if index.has_dense and wants_dense and embedder is None:
            try:
                embedder = load_embedder(settings.model, settings.query_prefix, settings.passage_prefix,
                                         settings.embed_batch_size, settings.hub_timeout, progress=False)
            except EmbedderUnavailableError as exc:
                warnings.append(str(exc))
        if not wants_dense:
            embedder = None
        stale = staleness(settings, index.manifest, lambda: index.corpus_record()["fingerprint"])
        if stale:
            warnings.append(stale)
        retriever = Retriever(index, embedder, settings.retrieval, settings.candidates, settings.rrf_k)
        return cls(settings, index, retriever, warnings)

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> list[Hit]:
        return self.retriever.search(query, k or self.settings.top_k, filters)

    def ask(self, question: str, history: Sequence[Any] = (), filters: SearchFilters | None = None,
            today: date | None = None) -> Answer:
        """Answer ``question`` from the documents, with citations, or abstain."""
        answer: Answer | None = None
        for event in self.ask_stream(question, history, filters, today):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def ask_stream(self, question: str, history: Sequence[Any] = (), filters: SearchFilters | None = None,
                   today: date | None = None) -> Iterator[str | Answer]:
        """Like :meth:`ask`, but yields the answer text as it is produced (``str`` pieces) and
        the checked :class:`Answer` last. Extractive answers come in one piece. The final
        Answer's text replaces what was streamed (markers may be removed by the check, or a
        failed generation replaced by an extractive answer)."""
        intent = understand(question, history, today, previous_docs=cited_docs(history))
        hits = self.retrieve(intent, filters)
        extractive = ExtractiveAnswerer(self.index)
        if not self.settings.uses_llm or not hits:
            answer = extractive.answer(intent, hits)
            yield answer.text
            yield answer
            return
        config = LLMConfig(self.settings.llm_url, self.settings.llm_model, self.settings.llm_api_key,
                           self.settings.llm_timeout)
        passages = hits[:PASSAGES_FOR_LLM]
        titles = [self.index.documents[h.chunk.doc_id].title for h in passages]
        reply: list[str] = []
        try:
            for piece in stream_chat(config, build_messages(question_with_context(intent), passages, titles)):
                reply.append(piece)
                yield piece
        except LLMError as exc:
            answer = extractive.answer(intent, hits)
            note = (f"Hinweis: {exc}. Die Antwort wurde stattdessen direkt aus den Dokumenten "
                    "zusammengestellt.")
            yield replace(answer, note=note)
            return
        answer = compose_checked("".join(reply), passages, self.index)
        if not answer.abstained and not answer.citations:
            fallback = extractive.answer(intent, hits)
            answer = replace(fallback, note="Hinweis: Die Antwort des Sprachmodells war durch die Dokumente "
                                            "nicht belegt; hier stattdessen die passenden Stellen.",
                             flagged=answer.flagged)
        yield replace(answer, hits=tuple(hits))

    def retrieve(self, intent: Intent, filters: SearchFilters | None = None) -> list[Hit]:
        """Passages for an understood question: dates in the question narrow the search unless
        that leaves nothing; in a follow-up the previously cited documents rank higher."""
        k = max(self.settings.top_k, PASSAGES)
        boost = None
        if intent.previous_docs:
            boost = np.zeros(len(self.index.chunks), dtype=np.float32)
            for doc_id in intent.previous_docs:
                rows = self.index.doc_rows.get(doc_id)
                if rows is not None:
                    boost[rows] = 0.5
        base = filters or SearchFilters()
        if intent.date_from is not None and base.date_from is None and base.date_to is None:
            dated = SearchFilters(base.doc_ids, intent.date_from, intent.date_to)
            hits = self.retriever.search(intent.search_text, k, dated, boost)
            if hits:
                return hits
        return self.retriever.search(intent.search_text, k, None if base.is_empty() else base, boost)


def cited_docs(history: Sequence[Any]) -> list[str]:
    """Document ids cited by the last answer in ``history`` (Answer objects, ``ask --json``
    dicts, or chat messages carrying them in ``metadata``)."""
    for item in reversed(list(history or ())):
        answer = item[1] if isinstance(item, (list, tuple)) and len(item) > 1 else item
        if isinstance(answer, Answer):
            return [c.doc_id for c in answer.citations]
        if isinstance(answer, dict):
            data = answer.get("metadata") if isinstance(answer.get("metadata"), dict) else answer
            citations = data.get("citations") if isinstance(data, dict) else None
            if isinstance(citations, list):
                return [c["doc_id"] for c in citations if isinstance(c, dict) and "doc_id" in c]
    return []


def same_model(a: str | None, b: str | None) -> bool:
    """Model names are equal, or both name the same local folder ("models/e5" and "./models/e5/")."""
    if a is None or b is None:
        return a == b
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def staleness(settings: Settings, manifest: dict[str, Any],
              recorded_fingerprint: Callable[[], dict[str, list[int]]] | None = None) -> str | None:
    """A German note when the corpus folder (or the text analysis) changed since the index was
    built, else None. ``manifest`` as :func:`~assistant.store.read_manifest` returns it, or the
    lean one of a loaded index with ``recorded_fingerprint`` giving the per-file record (read only
    when the corpus digest differs)."""
    if manifest.get("analyzer_version") != ANALYZER_VERSION:
        return ("Der Index wurde mit einer älteren Textanalyse gebaut; `assistant index` baut ihn neu "
                "auf (bis dahin können Suchergebnisse leicht abweichen).")
    if not settings.corpus_dir.is_dir():
        return None
    recorded_path = manifest.get("corpus_path")
    if recorded_path is None or Path(recorded_path) != settings.corpus_dir.resolve():
        return None
    current = corpus_fingerprint(settings.corpus_dir)
    if manifest.get("corpus_digest") == fingerprint_digest(current):
        return None
    recorded = manifest.get("fingerprint")
    if recorded is None and recorded_fingerprint is not None:
        recorded = recorded_fingerprint()
    if recorded is None:
        return ("Der Index ist veraltet: der Korpus hat sich seit dem Bau geändert. "
                "`assistant index` aktualisiert ihn (nur die geänderten Dokumente).")
    added = [d for d in current if d not in recorded]
    removed = [d for d in recorded if d not in current]
    changed = [d for d in current if d in recorded and list(current[d]) != list(recorded[d])]
    if not (added or removed or changed):
        return None
    parts = [f"{len(x)} {label}" for x, label in ((added, "neu"), (changed, "geändert"), (removed, "gelöscht")) if x]
    return (f"Der Index ist veraltet: seit dem Bau sind Dokumente im Korpus {', '.join(parts)}. "
            "`assistant index` aktualisiert ihn (nur die geänderten Dokumente).")
