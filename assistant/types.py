"""Plain data passed between the stages: documents, chunks, search hits, answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# A long job reports its steps: (German step name, done, total).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DateMention:
    """A date or date range written in a text; ``start``/``end`` are inclusive days."""

    start: date
    end: date
    text: str
    offset: int
    precision: str  # "day", "month" or "year"

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "text": self.text,
            "offset": self.offset,
            "precision": self.precision,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DateMention:
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            text=data["text"],
            offset=int(data["offset"]),
            precision=data["precision"],
        )


@dataclass(frozen=True)
class Document:
    """One corpus file as text. ``id`` is the path relative to the corpus folder.

    ``url`` (http or https only) and ``published`` come from the file's sidecar
    (``<file>.meta.json``, see :mod:`assistant.ingest.sidecar`): the page the text was fetched
    from and its publication date. ``published`` is not in the text: its ``offset`` is -1 and it
    is not one of ``dates``; when present it is the document's :attr:`date`.
    """

    id: str
    text: str
    title: str
    content_hash: str
    source_path: str
    dates: tuple[DateMention, ...] = ()
    pages: tuple[tuple[int, int, int], ...] = ()  # (page number, start, end) for PDFs
    fmt: str = "txt"
    url: str | None = None
    published: DateMention | None = None

    @property
    def date(self) -> DateMention | None:
        """The date that best describes the document: its publication date, else the first date
        of day precision in the text, else the first."""
        if self.published is not None:
            return self.published
        for mention in self.dates:
            if mention.precision == "day":
                return mention
        return self.dates[0] if self.dates else None

    def page_at(self, offset: int) -> int | None:
        for number, start, end in self.pages:
            if start <= offset < end:
                return number
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "title": self.title,
            "content_hash": self.content_hash,
            "source_path": self.source_path,
            "dates": [d.to_json() for d in self.dates],
            "pages": [list(p) for p in self.pages],
            "fmt": self.fmt,
            "url": self.url,
            "published": self.published.to_json() if self.published else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        return cls(
            id=data["id"],
            text=data["text"],
            title=data["title"],
            content_hash=data["content_hash"],
            source_path=data["source_path"],
            dates=tuple(DateMention.from_json(d) for d in data.get("dates", [])),
            pages=tuple((int(a), int(b), int(c)) for a, b, c in data.get("pages", [])),
            fmt=data.get("fmt", "txt"),
            url=data.get("url"),
            published=DateMention.from_json(data["published"]) if data.get("published") else None,
        )


def chunk_id(doc_id: str, number: int) -> str:
    """The readable id of a document's ``number``-th chunk: ``"bericht.pdf#3"``."""
    return f"{doc_id}#{number}"


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == document.text[start:end]``.

    ``row`` is the chunk's row in the index tables (also its vector id in FAISS); ``id`` is its
    readable id (:func:`chunk_id`).
    """

    id: str
    row: int
    doc_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each retriever (1-based)."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # raw score per retriever
    also_published: tuple[str, ...] = ()  # the other copies of a reposted document (their ids)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.id,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "score": round(float(self.score), 6),
            "ranks": dict(self.ranks),
            "text": self.chunk.text,
        }
        if self.also_published:
            data["also_published"] = list(self.also_published)
        return data


@dataclass(frozen=True)
class SearchFilters:
    """Restrict retrieval to some documents and/or to documents dated within a range."""

    doc_ids: frozenset[str] | None = None
    date_from: date | None = None
    date_to: date | None = None

    def is_empty(self) -> bool:
        return self.doc_ids is None and self.date_from is None and self.date_to is None


@dataclass(frozen=True)
class Citation:
    """A quoted sentence behind an answer: ``quote == document.text[start:end]``."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str
    page: int | None = None
    url: str | None = None  # the page the document was fetched from (http/https), when known
    also_published: tuple[str, ...] = ()  # the other copies of a reposted document (their ids)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "n": self.n,
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "date": self.date,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "url": self.url,
        }
        if self.page is not None:
            data["page"] = self.page
        if self.also_published:
            data["also_published"] = list(self.also_published)
        return data


@dataclass(frozen=True)
class ShortAnswer:
    """The exact span that answers the question (a date, an amount, a name, the shortest clause),
    inside the sentence of citation ``n``: ``text == document.text[start:end]``."""

    text: str
    start: int
    end: int
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "n": self.n}


@dataclass(frozen=True)
class Answer:
    """A German answer with its citations (``[n]`` in ``text``), or an abstention. With a
    ``short_answer``, ``text`` begins with it on a line of its own."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    hits: tuple[Hit, ...]
    mode: str = "extractive"
    note: str | None = None
    flagged: tuple[str, ...] = ()  # sentences whose claims the cited passages do not support
    confidence: float = 0.0
    short_answer: ShortAnswer | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "answer": self.text,
            "short_answer": self.short_answer.to_json() if self.short_answer else None,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "hits": [h.to_json() for h in self.hits],
            "mode": self.mode,
            "confidence": round(self.confidence, 4),
        }
        if self.note:
            data["note"] = self.note
        if self.flagged:
            data["flagged"] = list(self.flagged)
        return data
