"""German wording of extractive answers: sentences with their ``[n]`` markers and citations,
the event list, the answer naming the latest (earliest) document, and the abstention."""

from __future__ import annotations

from ..ingest.dates import extract_dates
from ..search.query import Intent
from ..types import Answer, Citation, Document, Hit
from .candidates import Candidate

ABSTAIN_TEXT = "In den vorliegenden Dokumenten finde ich dazu keine Angaben."


def date_label(doc: Document) -> str | None:
    mention = doc.date
    return mention.text if mention else None


def short_title(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 2].rsplit(" ", 1)[0] + " …"


def citation(n: int, candidate: Candidate) -> Citation:
    doc = candidate.doc
    return Citation(
        n,
        doc.id,
        candidate.hit.chunk.id,
        doc.title,
        date_label(doc),
        candidate.start,
        candidate.end,
        candidate.text,
        doc.page_at(candidate.start),
    )


def abstain(hits: list[Hit], confidence: float = 0.0) -> Answer:
    return Answer(ABSTAIN_TEXT, (), True, tuple(hits), confidence=confidence)


def compose(
    chosen: list[Candidate], hits: list[Hit], intent: Intent, confidence: float, lead: str | None = None
) -> Answer:
    """The chosen sentences in order, each with its marker; each new document introduced by its
    title ("Laut „…“:"), unless ``lead`` introduces the whole answer."""
    citations: list[Citation] = []
    parts: list[str] = []
    previous_doc: str | None = None
    for candidate in chosen:
        n = len(citations) + 1
        doc = candidate.doc
        citations.append(citation(n, candidate))
        sentence = " ".join(candidate.text.split())
        if lead is None and doc.id != previous_doc:
            when = date_label(doc)
            own_date = any(m.precision != "year" for m in extract_dates(sentence))
            dated = f" ({when})" if when and intent.about_dates and not own_date else ""
            opener = "Laut" if previous_doc is None else "Außerdem laut"
            sentence = f"{opener} „{short_title(doc.title)}“{dated}: {sentence}"
        parts.append(f"{sentence} [{n}]")
        previous_doc = doc.id
    text = " ".join(parts)
    if lead:
        text = f"{lead} {text}"
    return Answer(text, tuple(citations), False, tuple(hits), confidence=confidence)


def latest_lead(pick: Document, order: str) -> str:
    """ "Das jüngste passende Dokument ist „…“ (20. Oktober 2022):"."""
    word = "jüngste" if order == "latest" else "früheste"
    return f"Das {word} passende Dokument ist „{short_title(pick.title)}“ ({date_label(pick)}):"


def event_list(intent: Intent, chosen: list[Candidate], hits: list[Hit]) -> Answer:
    """One line per document with its dated sentence: "In den Dokumenten finde ich für 2022 …"."""
    citations: list[Citation] = []
    lines = [
        f"In den Dokumenten finde ich für {intent.date_label or 'diesen Zeitraum'} "
        f"{'diese Einträge' if len(chosen) > 1 else 'diesen Eintrag'}:"
    ]
    for n, c in enumerate(chosen, start=1):
        citations.append(citation(n, c))
        lines.append(f"- {short_title(c.doc.title)}: {' '.join(c.text.split())} [{n}]")
    return Answer("\n".join(lines), tuple(citations), False, tuple(hits), confidence=1.0)
