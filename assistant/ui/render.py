"""HTML and Markdown for the chat: answers, source cards, the document view, staff tables.
Everything taken from a document is HTML-escaped here; nothing a document contains can run."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

from ..index.build import BuildReport
from ..index.duplicates import copy_label
from ..index.reader import IndexData
from ..ingest.sidecar import safe_url, site_name
from ..pipeline import Assistant
from ..types import Answer
from .service import Service

MAX_VIEW_CHARS = 200_000  # longer documents are shown as a window around the passage
CARD_CONTEXT = 220  # characters of the passage shown on a card before and after the quote
NO_SOURCES = '<div class="quellen-leer">Hier erscheinen die Quellen zur Antwort.</div>'
NO_DOCUMENT = (
    '<div class="dokument-leer">Wählen Sie bei einer Quelle „Im Dokument anzeigen“, '
    "um das ganze Dokument mit der markierten Stelle zu sehen.</div>"
)


class SourceEntry(TypedDict):
    """One source card of an answer: a citation, or (for an abstention) one of the closest passages.
    Kept with the answer in the conversation state, so a card opens its document later."""

    n: int
    kind: str  # "citation" | "hit"
    doc_id: str
    chunk_id: str
    title: str
    date: str | None
    page: int | None
    start: int  # the quoted sentence (or the passage) in the document
    end: int
    quote: str
    passage_start: int  # the passage around it
    passage_end: int
    short_start: int | None  # the short answer inside the quoted sentence (citation n of the short answer)
    short_end: int | None
    url: str | None  # the page the document was fetched from (its sidecar), shown as a link to it
    also_published: NotRequired[list[str]]  # the other copies of a reposted document (kept before: none)


# Markdown's own syntax, plus what the chat's renderer (GFM) turns into a link by itself: a
# scheme's ":" (https://, ftp://, mailto:), an address' "@" and the "." after "www".
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+|~$&:@])|(?<=[wW]{3})(\.)")


def md_escape(text: str) -> str:
    """Document text for the chat's Markdown: shown literally, never as HTML or links (a URL in
    a document stays text: no link in an answer leads anywhere)."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)


def answer_markdown(answer: Answer) -> str:
    """The answer for the chat: the short answer in bold on its own line, then the rest."""
    text = answer.text
    short = answer.short_answer
    if short is not None and text.startswith(short.text + "\n"):
        parts = [f"**{md_escape(short.text)}**\n\n{md_escape(text[len(short.text) + 1 :])}"]
    else:
        parts = [md_escape(text)]
    if answer.note:
        parts.append(f"*{md_escape(answer.note)}*")
    if answer.flagged:
        parts.append("*Nicht belegt:* " + " ".join(md_escape(s) for s in answer.flagged))
    if answer.abstained and answer.hits:
        parts.append("*Unter „Quellen“ stehen die ähnlichsten Stellen.*")
    return "\n\n".join(parts)


def _chunk_bounds(
    index: IndexData, answer: Answer, doc_id: str, chunk_id: str, start: int, end: int
) -> tuple[int, int]:
    for hit in answer.hits:
        if hit.chunk.id == chunk_id:
            return hit.chunk.start, hit.chunk.end
    for row in index.doc_rows.get(doc_id, ()):
        chunk = index.chunks[int(row)]
        if chunk.id == chunk_id or chunk.start <= start < chunk.end:
            return chunk.start, chunk.end
    return start, end


def source_entries(answer: Answer, index: IndexData) -> list[SourceEntry]:
    """What the cards and the document view need: the citations, or for an answer without
    any, the closest passages."""
    entries: list[SourceEntry] = []
    short = answer.short_answer
    for c in answer.citations:
        ps, pe = _chunk_bounds(index, answer, c.doc_id, c.chunk_id, c.start, c.end)
        marked = short is not None and short.n == c.n and c.start <= short.start < short.end <= c.end
        entries.append(
            {
                "n": c.n,
                "kind": "citation",
                "doc_id": c.doc_id,
                "chunk_id": c.chunk_id,
                "title": c.title,
                "date": c.date,
                "page": c.page,
                "start": c.start,
                "end": c.end,
                "quote": c.quote,
                "passage_start": min(ps, c.start),
                "passage_end": max(pe, c.end),
                "short_start": short.start if short is not None and marked else None,
                "short_end": short.end if short is not None and marked else None,
                "url": c.url,
                "also_published": list(c.also_published),
            }
        )
    if entries or not answer.hits:
        return entries
    for n, hit in enumerate(answer.hits[:3], start=1):
        doc = index.documents.get(hit.chunk.doc_id)
        if doc is None:
            continue
        entries.append(
            {
                "n": n,
                "kind": "hit",
                "doc_id": doc.id,
                "chunk_id": hit.chunk.id,
                "title": doc.title,
                "date": doc.date.text if doc.date else None,
                "page": doc.page_at(hit.chunk.start),
                "start": hit.chunk.start,
                "end": hit.chunk.end,
                "quote": hit.chunk.text,
                "passage_start": hit.chunk.start,
                "passage_end": hit.chunk.end,
                "short_start": None,
                "short_end": None,
                "url": doc.url,
                "also_published": list(hit.also_published),
            }
        )
    return entries


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def site_link(url: Any) -> str:
    """The site's name as a link to the page, opened in a new tab; nothing for an address that
    is not http(s) (a ``javascript:`` or ``data:`` one from a sidecar or a stored conversation)."""
    safe = safe_url(url)
    if safe is None:
        return ""
    return (
        f'<a class="quelle-link" href="{_esc(safe)}" target="_blank" rel="noopener noreferrer" '
        f'title="Originalseite öffnen: {_esc(safe)}">{_esc(site_name(safe))}</a>'
    )


def _meta_line(entry: SourceEntry) -> str:
    parts = [entry.get("date"), entry["doc_id"], f"S. {entry['page']}" if entry.get("page") else None]
    link = site_link(entry.get("url"))
    return " · ".join(([link] if link else []) + [_esc(p) for p in parts if p])


def _card_passage(entry: SourceEntry, doc_text: str | None) -> str:
    """The passage around the cited sentence, the sentence marked; from the document when it
    still matches, else the quote alone."""
    start, end = entry["start"], entry["end"]
    if doc_text is None or doc_text[start:end] != entry["quote"] or entry["kind"] == "hit":
        quote = " ".join(entry["quote"].split())
        if entry["kind"] == "hit":
            return _esc(quote[: 2 * CARD_CONTEXT]) + (" …" if len(quote) > 2 * CARD_CONTEXT else "")
        return f'<mark class="satz">{_esc(quote)}</mark>'
    low = max(entry["passage_start"], start - CARD_CONTEXT)
    high = min(entry["passage_end"], end + CARD_CONTEXT)
    if low > entry["passage_start"]:  # cut between words
        space = doc_text.find(" ", low, start)
        low = space + 1 if space >= 0 else low
    if high < entry["passage_end"]:
        space = doc_text.rfind(" ", end, high)
        high = space if space >= 0 else high
    before = ("… " if low > entry["passage_start"] else "") + _squeeze(doc_text[low:start])
    after = _squeeze(doc_text[end:high]) + (" …" if high < entry["passage_end"] else "")
    return f'{_esc(before)}<mark class="satz">{_marked_sentence(entry, doc_text)}</mark>{_esc(after)}'


def _marked_sentence(entry: SourceEntry, doc_text: str) -> str:
    """The cited sentence, escaped, with the short answer inside it in <strong>."""
    start, end = entry["start"], entry["end"]
    a, b = entry.get("short_start"), entry.get("short_end")
    if a is None or b is None or not start <= a < b <= end:
        return _esc(_squeeze(doc_text[start:end]))
    return (
        _esc(_squeeze(doc_text[start:a]))
        + f'<strong class="kurzantwort">{_esc(_squeeze(doc_text[a:b]))}</strong>'
        + _esc(_squeeze(doc_text[b:end]))
    )


def _copies(entry: SourceEntry, index: IndexData | None) -> str:
    """ "Auch veröffentlicht bei …" under a card of a reposted document (its other copies)."""
    copies = entry.get("also_published") or []
    if not copies:
        return ""
    docs = index.documents if index is not None else {}
    names = ", ".join(_esc(copy_label(docs[d]) if d in docs else d) for d in copies)
    return f'<div class="quelle-kopien">Auch veröffentlicht bei: {names}</div>'


def _squeeze(text: str) -> str:
    """Whitespace runs as one space: a card is no place for the document's blank lines."""
    return re.sub(r"\s+", " ", text)


def render_sources(entries: Sequence[SourceEntry], turn: int, question: str, index: IndexData | None) -> str:
    if not entries:
        return (
            NO_SOURCES
            if not question
            else (
                f'<div class="quellen-leer">Zu „{_esc(question)}“ gibt es keine passenden Stellen '
                "in den Dokumenten.</div>"
            )
        )
    hits = entries[0]["kind"] == "hit"
    heading = "Keine belegte Antwort – die ähnlichsten Stellen" if hits else "Quellen zur Antwort"
    cards = [
        f'<summary class="quellen-kopf">{heading} <span class="quellen-frage">auf „{_esc(question)}“</span></summary>'
    ]
    for entry in entries:
        doc = index.documents.get(entry["doc_id"]) if index is not None else None
        n = int(entry["n"])
        back = (  # back to the answer (sources.js)
            f'<button type="button" class="quelle-nr" data-zur-antwort="{n}" data-turn="{int(turn)}" '
            f'title="Zur Antwort" aria-label="Quelle {n}: zurück zur Antwort">[{n}]</button>'
        )
        cards.append(
            f'<article class="quelle" id="quelle-{n}" data-n="{n}" data-turn="{int(turn)}">'
            f'<div>{back}<span class="quelle-titel">{_esc(entry["title"])}</span></div>'
            f'<div class="quelle-meta">{_meta_line(entry)}</div>'
            f'<blockquote class="quelle-text">{_card_passage(entry, doc.text if doc else None)}</blockquote>'
            f"{_copies(entry, index)}"
            f'<button type="button" class="quelle-oeffnen" data-turn="{turn}" data-quelle="{entry["n"]}">'
            "Im Dokument anzeigen</button></article>"
        )
    return f'<details class="quellen" open>{"".join(cards)}</details>'


def render_document(index: IndexData, entry: SourceEntry, nonce: str = "") -> str:
    """The whole document, escaped, with the passage tinted and the cited sentence marked."""
    doc = index.documents.get(entry["doc_id"])
    if doc is None:
        return (
            f'<div class="dokument-leer">Das Dokument {_esc(entry["doc_id"])} ist nicht mehr im Index '
            "(inzwischen gelöscht?).</div>"
        )
    text = doc.text
    notes = []
    start, end = entry["start"], entry["end"]
    if text[start:end] != entry["quote"]:
        found = text.find(entry["quote"]) if entry["quote"] else -1
        if found < 0:
            notes.append("Das Dokument wurde seit der Antwort geändert; die zitierte Stelle ist nicht mehr enthalten.")
            start = end = 0
        else:
            start, end = found, found + len(entry["quote"])
    ps = min(entry["passage_start"], start) if notes == [] else start
    pe = max(entry["passage_end"], end) if notes == [] else end
    ps, pe = max(0, min(ps, len(text))), max(0, min(pe, len(text)))
    low, high = 0, len(text)
    if len(text) > MAX_VIEW_CHARS:
        low = max(0, start - MAX_VIEW_CHARS // 2)
        high = min(len(text), low + MAX_VIEW_CHARS)
        notes.append(
            f"Langes Dokument: gezeigt werden die Zeichen {low:,}–{high:,} von {len(text):,}.".replace(",", ".")
        )
    ps, pe = max(ps, low), min(pe, high)
    start, end = max(start, ps), min(max(end, start), pe)
    mark_id = f"zitat-{entry['n']}"
    body = (
        _esc(text[low:ps])
        + '<span class="passage">'
        + _esc(text[ps:start])
        + f'<mark class="zitat" id="{mark_id}">{_esc(text[start:end])}</mark>'
        + _esc(text[end:pe])
        + "</span>"
        + _esc(text[pe:high])
    )
    meta = [_esc(m) for m in (doc.id, doc.date.text if doc.date else None, doc.fmt.upper()) if m]
    link = site_link(doc.url)
    hint = "".join(f'<div class="dokument-hinweis">{_esc(n)}</div>' for n in notes)
    return (
        f'<div class="dokument" data-geoeffnet="{_esc(nonce)}">'
        f'<div class="dokument-kopf"><h3>{_esc(doc.title)}</h3>'
        f'<div class="dokument-meta">{" · ".join(([link] if link else []) + meta)} · Quelle [{entry["n"]}]</div></div>'
        f'{hint}<div class="dokument-text">{body}</div></div>'
    )


def document_rows(index: IndexData) -> list[list[Any]]:
    rows = []
    for doc in sorted(index.documents.values(), key=lambda d: d.id):
        rows.append([doc.id, doc.title, doc.date.text if doc.date else "–", len(index.doc_rows.get(doc.id, ()))])
    return rows


def document_choices(index: IndexData) -> list[tuple[str, str]]:
    return [(f"{doc.title[:70]} ({doc.id})", doc.id) for doc in sorted(index.documents.values(), key=lambda d: d.id)]


LEXICAL_NOTICE = (
    "Die Suche arbeitet derzeit nur mit Stichwörtern: Fragen Sie am besten mit den Begriffen, "
    "die in den Dokumenten stehen (z. B. Namen von Programmen, Orten oder Veranstaltungen)."
)


def index_status(service: Service) -> str:
    """The line above the chat, in plain words: how many documents, and when the search only
    matches words, what that means for a question. The technical detail is for staff only
    (:func:`staff_status`)."""
    with service.using() as assistant:
        text = f"{len(assistant.index.documents)} Dokumente · {assistant.index.live_chunks} Abschnitte"
        if assistant.retriever.effective_mode == "lexical":
            text += f"\n\n*{LEXICAL_NOTICE}*"
        return text


def staff_status(service: Service) -> str:
    """The index as staff need to know it: the search mode, and what the assistant warned of
    when it opened the index (with the settings to change, where there are any)."""
    with service.using() as assistant:
        return _staff_status(assistant)


def _staff_status(assistant: Assistant) -> str:
    mode = assistant.retriever.effective_mode
    plain = {
        "hybrid": "Stichwörter und Bedeutung (BM25 und Vektoren)",
        "lexical": "nur Stichwörter (BM25, ohne Einbettungsmodell)",
        "dense": "nur Bedeutung (Vektoren)",
    }.get(mode, mode)
    lines = [
        f"**Index:** {len(assistant.index.documents)} Dokumente, {assistant.index.live_chunks} Abschnitte. "
        f"**Suche:** {plain}."
    ]
    details = technical_details(assistant.warnings, "Hinweise zur Einrichtung (Einzelheiten)")
    return "\n\n".join(lines + ([details] if details else []))


def technical_details(warnings: Sequence[str], summary: str) -> str:
    """Technical warnings (model names, settings) folded away under a plain summary: staff
    open it when they set the assistant up; nobody meets it by chance."""
    if not warnings:
        return ""
    items = "".join(f"<li>{_esc(w)}</li>" for w in warnings)
    return f"<details><summary>{_esc(summary)}</summary><ul>{items}</ul></details>"


def report_markdown(report: BuildReport, prefix: str = "") -> str:
    """A build's result for staff, in plain words (no generation ids; warnings folded away)."""
    lines = [prefix] if prefix else []
    lines.append(
        f"**Index aktualisiert** (in {report.seconds:.1f} s): ".replace(".", ",")
        + f"{report.documents} Dokumente, {report.chunks} Abschnitte – {len(report.added)} neu, "
        f"{len(report.changed)} geändert, {len(report.removed)} entfernt."
    )
    for item in report.skipped:
        lines.append(f"- übersprungen: {md_escape(item.path)}: {md_escape(item.reason)}")
    text = "\n\n".join(lines) if not report.skipped else "\n".join(lines)
    details = technical_details(report.warnings, "Hinweise zur Einrichtung (Einzelheiten)")
    return text + ("\n\n" + details if details else "")
