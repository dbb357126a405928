"""From settings to answers: open the index, pick the retrievers, search (and, later, answer).

One question's path: :meth:`Assistant.search` -> :class:`~assistant.retrieval.Retriever` ->
BM25 (:mod:`assistant.lexical`) and FAISS (:mod:`assistant.store`) -> fused :class:`Hit` list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .config import Settings
from .embedder import Embedder, load_embedder
from .errors import EmbedderUnavailableError, IndexMismatchError
from .loaders import corpus_fingerprint
from .retrieval import Retriever
from .store import IndexData, load_index
from .types import Hit, SearchFilters

log = logging.getLogger(__name__)


@dataclass
class Assistant:
    settings: Settings
    index: IndexData
    retriever: Retriever
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> "Assistant":
        """Load the index in ``settings.index_dir`` and the embedder it was built with."""
        index = load_index(settings.index_dir)
        index.lexical.doc_weight = settings.doc_weight
        warnings: list[str] = []
        built_with = index.manifest.get("model")
        wants_dense = settings.retrieval != "lexical" and settings.dense_enabled
        if index.has_dense and wants_dense and built_with != settings.model:
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
        stale = staleness(settings, index)
        if stale:
            warnings.append(stale)
        retriever = Retriever(index, embedder, settings.retrieval, settings.candidates, settings.rrf_k)
        return cls(settings, index, retriever, warnings)

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> list[Hit]:
        return self.retriever.search(query, k or self.settings.top_k, filters)


def staleness(settings: Settings, index: IndexData) -> str | None:
    """A German note when the corpus folder changed since the index was built, else None."""
    recorded = index.manifest.get("fingerprint")
    if recorded is None or not settings.corpus_dir.is_dir():
        return None
    if str(settings.corpus_dir) != index.manifest.get("corpus_dir"):
        return None
    current = corpus_fingerprint(settings.corpus_dir)
    added = [d for d in current if d not in recorded]
    removed = [d for d in recorded if d not in current]
    changed = [d for d in current if d in recorded and list(current[d]) != list(recorded[d])]
    if not (added or removed or changed):
        return None
    parts = [f"{len(x)} {label}" for x, label in ((added, "neu"), (changed, "geändert"), (removed, "gelöscht")) if x]
    return (f"Der Index ist veraltet: seit dem Bau sind Dokumente im Korpus {', '.join(parts)}. "
            "`assistant index` aktualisiert ihn (nur die geänderten Dokumente).")
