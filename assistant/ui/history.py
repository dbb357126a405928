"""The list of earlier conversations in the chat: its components and what happens on it.
Conversations live in the browser (:mod:`.memory`): each is saved there after every answer and
vote, listed by first question and date, reopened (the chat, the last answer's sources, and
follow-up questions that read that history) or deleted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from .events import ChatMessage
from .memory import STORAGE_KEY, choices, empty_store, find, forget, read_store, remember
from .rating import rating_view
from .render import NO_DOCUMENT, NO_SOURCES, md_escape, render_sources
from .service import Service

NONE_YET = "Noch keine gespeicherten Gespräche in diesem Browser."
LISTED = "Gespeichert nur in diesem Browser. Ein Klick öffnet ein Gespräch wieder."
CHOOSE_FIRST = "Bitte zuerst ein Gespräch in der Liste auswählen."
GONE = "Dieses Gespräch ist nicht mehr gespeichert (in einem anderen Fenster gelöscht?)."


@dataclass
class HistoryUI:
    store: gr.BrowserState  # {"v": 1, "conversations": [...]} in the browser's local storage
    current: gr.State  # the id of the conversation shown, None for one not yet saved
    choice: gr.Radio
    delete: gr.Button
    note: gr.Markdown


def layout_history(secret: str) -> HistoryUI:
    store = gr.BrowserState(empty_store(), storage_key=STORAGE_KEY, secret=secret)
    current = gr.State(None)
    with gr.Accordion("Frühere Gespräche", open=True, elem_id="fruehere-gespraeche"):
        note = gr.Markdown(NONE_YET, elem_id="gespraeche-hinweis")
        choice = gr.Radio(
            choices=[],
            value=None,
            show_label=False,
            elem_id="gespraeche-liste",
            label="Frühere Gespräche",
            visible=False,
        )
        delete = gr.Button(
            "Ausgewähltes Gespräch löschen", size="sm", variant="stop", elem_id="gespraech-loeschen", visible=False
        )
    return HistoryUI(store, current, choice, delete, note)


def _notice(text: str, problem: str = "") -> str:
    return f"{text}\n\n*{problem}*" if problem else text


def show_list(store: Any, current: str | None) -> tuple[Any, Any, str]:
    """(list, delete button, note) for what the browser holds; the open conversation is the one
    chosen; list and button only when there is something in it."""
    conversations, problem = read_store(store)
    ids = {c["id"] for c in conversations}
    listed = bool(conversations)
    update = gr.update(choices=choices(conversations), value=current if current in ids else None, visible=listed)
    return update, gr.update(visible=listed), _notice(LISTED if listed else NONE_YET, problem)


def save(conversation: list[ChatMessage], current: str | None, store: Any) -> tuple[Any, Any]:
    """(current id, store) with the conversation saved as the newest."""
    if not conversation:
        return gr.skip(), gr.skip()
    cid, value = remember(store, current, [dict(m) for m in conversation])
    return cid, value


def reopen(service: Service, store: Any, chosen: str | None) -> tuple[Any, ...]:
    """The chosen conversation back in the chat: (chat, conversation, sources, document, turn,
    current id, feedback box, buttons, feedback note, list note)."""
    stored = find(store, chosen)
    if stored is None:
        return (gr.skip(),) * 9 + (GONE if chosen else CHOOSE_FIRST,)
    messages: list[Any] = stored["messages"]
    turn = len(messages) - 1
    last = messages[turn]
    with service.using() as assistant:
        sources = render_sources(last.get("sources", []), turn, last.get("question", ""), assistant.index)
    # as the chat shows them: a question escaped, an answer as checked by .memory
    shown = [{"role": m["role"], "content": m.get("display") or md_escape(m["content"])} for m in messages]
    box, buttons = rating_view(messages, turn)
    return shown, messages, sources, NO_DOCUMENT, turn, stored["id"], box, buttons, "", gr.skip()


def delete(store: Any, chosen: str | None, current: str | None) -> tuple[Any, ...]:
    """(store, current id, chat, conversation, sources, document, turn, feedback box, list note):
    the chat is emptied when the conversation deleted is the one shown."""
    if not chosen:
        return (gr.skip(),) * 8 + (CHOOSE_FIRST,)
    conversations, _ = read_store(store)
    value = forget(store, chosen)
    note = LISTED if len(conversations) > 1 else NONE_YET
    if chosen != current:
        return (value,) + (gr.skip(),) * 7 + (note,)
    return value, None, [], [], NO_SOURCES, NO_DOCUMENT, None, gr.update(visible=False), note
