"""Plain data passed between the stages: documents, chunks, search hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


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
    def from_json(cls, data: dict[str, Any]) -> "DateMention":
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            text=data["text"],
            offset=int(data["offset"]),
            precision=data["precision"],
        )


@dataclass(frozen=True)
class Document:
    """One corpus file as text. ``id`` is the path relative to the corpus folder."""

    id: str
    text: str
    title: str
    content_hash: str
    source_path: str
    dates: tuple[DateMention, ...] = ()
    pages: tuple[tuple[int, int, int], ...] = ()  # (page number, start, end) for PDFs
    fmt: str = "txt"

    @property
    def date(self) -> DateMention | None:
        """The date that best describes the document: the first one of day precision, else the first."""
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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Document":
        return cls(
            id=data["id"],
            text=data["text"],
            title=data["title"],
            content_hash=data["content_hash"],
            source_path=data["source_path"],
            dates=tuple(DateMention.from_json(d) for d in data.get("dates", [])),
            pages=tuple((int(a), int(b), int(c)) for a, b, c in data.get("pages", [])),
            fmt=data.get("fmt", "txt"),
        )


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == document.text[start:end]``.

    ``vid`` is the stable integer id of the chunk in the FAISS index; ``id`` is its readable id.
    """

    id: str
    vid: int
    doc_id: str
    text: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vid": self.vid,
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Chunk":
        return cls(
            id=data["id"],
            vid=int(data["vid"]),
            doc_id=data["doc_id"],
            text=data["text"],
            start=int(data["start"]),
            end=int(data["end"]),
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each retriever (1-based)."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # raw score per retriever

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.id,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "score": round(float(self.score), 6),
            "ranks": dict(self.ranks),
            "text": self.chunk.text,
        }


@dataclass(frozen=True)
class SearchFilters:
    """Restrict retrieval to some documents and/or to documents dated within a range."""

    doc_ids: frozenset[str] | None = None
    date_from: date | None = None
    date_to: date | None = None

    def is_empty(self) -> bool:
        return self.doc_ids is None and self.date_from is None and self.date_to is None
