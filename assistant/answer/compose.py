"""German wording of extractive answers: the short answer on a line of its own, then the
sentences that support it, each with its ``[n]`` marker and citation; lists with one item per
document; what lies ahead of today; deadlines that have passed; the abstention.

No "Laut „Titel“:" preamble: the source card names the document and its date.
"""

from __future__ import annotations

from datetime import date

from ..ingest.dates import extract_dates
from ..search.query import DEADLINE_SENTENCE, Intent
from ..types import Answer, Citation, DateMention, Document, Hit, ShortAnswer
from .candidates import Candidate

ABSTAIN_TEXT = "In den vorliegenden Dokumenten finde ich dazu keine Angaben."
_MONTH_NAMES = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()


def date_label(doc: Document) -> str | None:
    mention = doc.date
    return mention.text if mention else None


def german_date(day: date) -> str:
    """ "1. Dezember 2026"."""
    return f"{day.day}. {_MONTH_NAMES[day.month - 1]} {day.year}"


def date_span(start: date, end: date) -> str:
    """ "20. Oktober 2022", "26. bis 27. September 2022", "30. April bis 2. Mai 2017"."""
    if start == end:
        return german_date(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}. bis {german_date(end)}"
    if start.year == end.year:
        return f"{start.day}. {_MONTH_NAMES[start.month - 1]} bis {german_date(end)}"
    return f"{german_date(start)} bis {german_date(end)}"


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
        doc.url,
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
    if short is not None and intent.deadline and chosen and not names_deadline(chosen[0].text):
        short = None  # the date of an event is no answer to "Bis wann kann man sich anmelden?"
    note = deadline_note(intent, short, chosen)
    if note:
        body = f"{body}\n{note}"
    text = f"{short.text}\n{body}" if short is not None else body
    return Answer(text, tuple(citations), False, tuple(hits), confidence=confidence, short_answer=short)


def deadline_note(intent: Intent, short: ShortAnswer | None, chosen: list[Candidate]) -> str | None:
    """For a question about a deadline: whether the date the answer names has passed."""
    if not intent.deadline or intent.today is None or not chosen:
        return None
    year = _year_of(chosen[0])
    dates = [m for m in extract_dates(short.text, default_year=year) if m.precision != "year"] if short else []
    if not dates:  # a short answer without a date ("über das Förderportal"): the sentence's dates
        dates = [m for m in extract_dates(chosen[0].text, default_year=year) if m.precision != "year"]
    if not dates:
        return None
    last = max(m.end for m in dates)
    today = german_date(intent.today)
    if not names_deadline(chosen[0].text):
        when = "liegt zurück" if last < intent.today else "liegt noch vor uns"
        return f"Eine Frist nennt diese Stelle nicht, nur einen Termin; er {when} (heute ist der {today})."
    if last < intent.today:
        return f"Diese Frist ist abgelaufen (heute ist der {today})."
    return f"Diese Frist läuft noch ({(last - intent.today).days} Tage ab heute, dem {today})."


def names_deadline(sentence: str) -> bool:
    """Whether a sentence speaks of a deadline, not only of a date."""
    return DEADLINE_SENTENCE.search(sentence) is not None


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
    noun = intent.list_of or "Ihrer Frage"
    heading = f"Zu „{noun}“ finde ich in {len(chosen)} Dokumenten:"
    return item_list(heading, chosen, hits)


def upcoming(intent: Intent, dated: list[tuple[DateMention, Candidate]], hits: list[Hit]) -> Answer:
    """Dated sentences from today on, soonest first."""
    today = german_date(intent.today or date.today())
    heading = f"Ab heute ({today}) nennen die Dokumente diese Termine:"
    return item_list(heading, [c for _, c in dated], hits, [date_span(m.start, m.end) for m, _ in dated])


def nothing_upcoming(intent: Intent, latest: tuple[DateMention, Candidate] | None, hits: list[Hit]) -> Answer:
    """No date from today on: say so, and give the most recent one before it with its date."""
    today = german_date(intent.today or date.today())
    text = f"In den Dokumenten finde ich keine Termine ab heute ({today})."
    if latest is None:
        return Answer(text, (), False, tuple(hits), confidence=0.0)
    mention, candidate = latest
    text += f"\nDer jüngste genannte Termin: {date_span(mention.start, mention.end)}. {_sentence(candidate)} [1]"
    return Answer(text, (citation(1, candidate),), False, tuple(hits), confidence=1.0)
