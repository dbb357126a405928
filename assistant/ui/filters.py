"""The chat's filters as the user sees them: the line above the chat that says which filter is
active (also while the filter panel is closed) with its reset, the German note when a date is
wrong, and what an answer says when it found nothing with a filter active ("Ohne Filter
suchen" asks again without it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr
import numpy as np

from ..errors import InputError
from ..pipeline import Assistant
from ..types import Answer, SearchFilters
from .inputs import german_date, make_filters
from .render import answer_markdown, md_escape
from .service import Service


def _documents(n: int) -> str:
    return "1 Dokument" if n == 1 else f"{n} Dokumenten" if n else "kein Dokument"


def filter_label(filters: SearchFilters) -> str:
    """The filters in words: "01.01.2017 – 31.12.2017 · 2 ausgewählte Dokumente"."""
    parts: list[str] = []
    low, high = filters.date_from, filters.date_to
    if low and high:
        parts.append(f"{german_date(low)} – {german_date(high)}")
    elif low:
        parts.append(f"ab {german_date(low)}")
    elif high:
        parts.append(f"bis {german_date(high)}")
    if filters.doc_ids:
        n = len(filters.doc_ids)
        parts.append("1 ausgewähltes Dokument" if n == 1 else f"{n} ausgewählte Dokumente")
    return " · ".join(parts)


def documents_passing(assistant: Assistant, filters: SearchFilters) -> tuple[int, int]:
    """(documents the filters let through, documents in the index)."""
    index = assistant.index
    total = len(index.doc_rows)
    allowed = assistant.retriever.allowed_rows(filters)
    if allowed is None:
        return total, total
    return int(np.unique(index.tables.row_doc[allowed]).size), total


def filter_summary(assistant: Assistant, filters: SearchFilters) -> str:
    """The active-filter line: "01.01.2017 – 31.12.2017 · 1 von 5 Dokumenten"."""
    passing, total = documents_passing(assistant, filters)
    count = f"{passing} von {_documents(total)}" if passing else "kein Dokument passt"
    return f"{filter_label(filters)} · {count}"


def answer_display(answer: Answer, filters: SearchFilters | None) -> str:
    """The answer as the chat shows it; one that found nothing with filters active says so."""
    shown = answer_markdown(answer)
    if filters is None or not answer.abstained:
        return shown
    return (
        f"{shown}\n\n**Mit dem aktiven Filter ({md_escape(filter_label(filters))}) wurde nichts gefunden.** "
        "„Ohne Filter suchen“ über dem Gespräch stellt die Frage noch einmal in allen Dokumenten."
    )


def _abstained_with_filter(conversation: Sequence[Any]) -> bool:
    last = conversation[-1] if conversation else None
    return bool(last and last.get("role") == "assistant" and last.get("abstained") and last.get("filters"))


def show_filters(
    service: Service, date_from: Any, date_to: Any, docs: list[str] | None, conversation: Sequence[Any]
) -> tuple[Any, ...]:
    """(filter line, its text, "Ohne Filter suchen", note under the date fields) for the
    filters as they are in the form: hidden without filters, the German message for a wrong
    date, else which filters are active and how many documents they leave."""
    try:
        filters = make_filters(date_from, date_to, docs)
    except InputError as exc:
        message = md_escape(str(exc))
        return gr.update(visible=True), f"**Filter ungültig:** {message}", gr.update(visible=False), f"⚠️ {message}"
    if filters is None:
        return gr.update(visible=False), "", gr.update(visible=False), ""
    with service.using() as assistant:
        summary = filter_summary(assistant, filters)
    without = gr.update(visible=_abstained_with_filter(conversation))
    return gr.update(visible=True), f"**Filter aktiv:** {md_escape(summary)}", without, ""


def after_answer(
    service: Service, date_from: Any, date_to: Any, docs: list[str] | None, conversation: Sequence[Any]
) -> tuple[Any, ...]:
    """The filter line once the conversation changed: offers "Ohne Filter suchen" after an
    answer that found nothing with a filter; a conversation just cleared changes nothing
    (the filters' own reset hides the line)."""
    if not conversation:
        return gr.skip(), gr.skip(), gr.update(visible=False), gr.skip()
    return show_filters(service, date_from, date_to, docs, conversation)


def reset_filters() -> tuple[Any, ...]:
    """(date from, date to, documents, filter line, its text, "Ohne Filter suchen", note): all empty."""
    return "", "", [], gr.update(visible=False), "", gr.update(visible=False), ""


def search_without_filter(conversation: Sequence[Any]) -> tuple[Any, ...]:
    """The filters reset and the last question back in the input box, to be sent again."""
    question = next((m["content"] for m in reversed(conversation) if m.get("role") == "user"), "")
    return (*reset_filters(), question)
