"""German wording of extractive answers: the short answer on a line of its own, then the
sentences that support it, each with its ``[n]`` marker and citation; lists with one item per
document; what lies ahead of today; deadlines that have passed; the abstention.

No "Laut „Titel“:" preamble: the source card names the document and its date.
"""

from __future__ import annotations

from datetime import date

from ..ingest.dates import extract_dates
from ..search.query import Intent
from ..types import Answer, Citation, Document, Hit, ShortAnswer
from .candidates import Candidate

ABSTAIN_TEXT = "In den vorliegenden Dokumenten finde ich dazu keine Angaben."
_MONTH_NAMES = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()


def date_label(doc: Document) -> str | None:
    mention = doc.date
    return mention.text if mention else None


def german_date(day: date) -> str:
    """ "1. Dezember 2026"."""
    return f"{day.day}. {_MONTH_NAMES[day.month - 1]} {day.year}"


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


def _sentence(candidate: Candidate) -> str:
    return " ".join(candidate.text.split())


def abstain(hits: list[Hit], confidence: float = 0.0) -> Answer:
    return Answer(ABSTAIN_TEXT, (), True, tuple(hits), confidence=confidence)


def compose(
    chosen: list[Candidate],
    hits: list[Hit],
    intent: Intent,
    confidence: float,
    short: ShortAnswer | None = None,
    lead: str | None = None,
) -> Answer:
    """The short answer (when there is one) on its own line, then the chosen sentences in order,
    each with its marker; ``lead`` introduces the sentences ("Die jüngste passende Meldung …")."""
    citations = [citation(n, c) for n, c in enumerate(chosen, start=1)]
    body = " ".join(f"{_sentence(c)} [{n}]" for n, c in enumerate(chosen, start=1))
    if lead:
        body = f"{lead} {body}"
    note = deadline_note(intent, short, chosen)
    if note:
        body = f"{body}\n{note}"
    text = f"{short.text}\n{body}" if short is not None else body
    return Answer(text, tuple(citations), False, tuple(hits), confidence=confidence, short_answer=short)


def deadline_note(intent: Intent, short: ShortAnswer | None, chosen: list[Candidate]) -> str | None:
    """For a question about a deadline: whether the date the answer names has passed."""
    if not intent.deadline or intent.today is None or not chosen:
        return None
    where = short.text if short is not None else chosen[0].text
    dates = [m for m in extract_dates(where, default_year=_year_of(chosen[0])) if m.precision != "year"]
    if not dates:
        return None
    last = max(m.end for m in dates)
    today = german_date(intent.today)
    if last < intent.today:
        return f"Diese Frist ist abgelaufen (heute ist der {today})."
    return f"Diese Frist läuft noch ({(last - intent.today).days} Tage ab heute, dem {today})."


def _year_of(candidate: Candidate) -> int | None:
    mention = candidate.doc.date
    return mention.start.year if mention else None


def latest_lead(pick: Document, order: str) -> str:
    """ "Die jüngste passende Meldung ist vom 20. Oktober 2022:"."""
    word = "jüngste" if order == "latest" else "früheste"
    when = date_label(pick)
    return f"Die {word} passende Meldung ist vom {when}:" if when else f"Die {word} passende Meldung:"


def item_list(heading: str, items: list[Candidate], hits: list[Hit], labels: list[str] | None = None) -> Answer:
    """A heading, then one line per item: its label (the document's title unless given) and its
    sentence with the marker."""
    citations = [citation(n, c) for n, c in enumerate(items, start=1)]
    lines = [heading]
    for n, c in enumerate(items, start=1):
        label = labels[n - 1] if labels else short_title(c.doc.title)
        lines.append(f"- {label}: {_sentence(c)} [{n}]")
    return Answer("\n".join(lines), tuple(citations), False, tuple(hits), confidence=1.0)


def event_list(intent: Intent, chosen: list[Candidate], hits: list[Hit]) -> Answer:
    """One line per document with its dated sentence: "In den Dokumenten finde ich für 2022 …"."""
    heading = (
        f"In den Dokumenten finde ich für {intent.date_label or 'diesen Zeitraum'} "
        f"{'diese Einträge' if len(chosen) > 1 else 'diesen Eintrag'}:"
    )
    return item_list(heading, chosen, hits)


def across_documents(intent: Intent, chosen: list[Candidate], hits: list[Hit]) -> Answer:
    """ "Welche Förderprogramme gibt es?": one line per document."""
    noun = intent.list_of or "Einträge"
    heading = (
        f"In den Dokumenten finde ich {len(chosen)} {'Stellen' if len(chosen) > 1 else 'Stelle'} zu „{noun}“:"
        if len(chosen) > 1
        else f"In den Dokumenten finde ich eine Stelle zu „{noun}“:"
    )
    return item_list(heading, chosen, hits)


def upcoming(intent: Intent, dated: list[tuple[date, Candidate]], hits: list[Hit]) -> Answer:
    """Dated sentences from today on, soonest first."""
    today = german_date(intent.today or date.today())
    heading = f"Ab heute ({today}) nennen die Dokumente diese Termine:"
    return item_list(heading, [c for _, c in dated], hits, [german_date(d) for d, _ in dated])


def nothing_upcoming(intent: Intent, latest: tuple[date, Candidate] | None, hits: list[Hit]) -> Answer:
    """No date from today on: say so, and give the most recent one before it with its date."""
    today = german_date(intent.today or date.today())
    text = f"In den Dokumenten finde ich keine Termine ab heute ({today})."
    if latest is None:
        return Answer(text, (), False, tuple(hits), confidence=0.0)
    when, candidate = latest
    text += f"\nDer jüngste genannte Termin ist der {german_date(when)}: {_sentence(candidate)} [1]"
    return Answer(text, (citation(1, candidate),), False, tuple(hits), confidence=1.0)
