"""Rating an answer in the chat: the 👍/👎 buttons name the answer they rate ("Bewertung für
Antwort 2 von 3 …"), show the vote already given (pressed style, ``aria-pressed``) and appear
only once there is an answer. A click stores one vote per answer (:func:`.events.send_feedback`)
and keeps it with the answer, so it is shown again when the conversation is reopened."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from .events import ChatMessage, send_feedback
from .service import Service

MAX_QUOTED_CHARS = 70
_LABELS = {"up": "👍 Ja", "down": "👎 Nein"}
_IDS = {"up": "daumen-hoch", "down": "daumen-runter"}
_CHOSEN = {"up": "Ihre Bewertung: hilfreich", "down": "Ihre Bewertung: nicht hilfreich"}


def rated_turn(conversation: list[ChatMessage], turn: int | None) -> int | None:
    """``turn`` when it is an answer of ``conversation``, else None."""
    if turn is None or not 0 <= turn < len(conversation) or conversation[turn].get("role") != "assistant":
        return None
    return turn


def rating_html(conversation: list[ChatMessage], turn: int | None) -> str:
    """The buttons for the answer at ``turn``, with which answer they rate and the chosen vote."""
    turn = rated_turn(conversation, turn)
    if turn is None:
        return ""
    number = sum(1 for m in conversation[: turn + 1] if m.get("role") == "assistant")
    total = sum(1 for m in conversation if m.get("role") == "assistant")
    question = " ".join(str(conversation[turn].get("question", "")).split())
    if len(question) > MAX_QUOTED_CHARS:
        question = question[: MAX_QUOTED_CHARS - 1].rstrip() + "…"
    chosen = conversation[turn].get("vote")
    buttons = "".join(
        f'<button type="button" id="{_IDS[v]}" class="bewertung-knopf{" gewaehlt" if chosen == v else ""}" '
        f'data-vote="{v}" aria-pressed="{"true" if chosen == v else "false"}">{_LABELS[v]}</button>'
        for v in ("up", "down")
    )
    state = _CHOSEN.get(str(chosen), "noch nicht bewertet")
    of = f" von {total}" if total > 1 else ""
    return (
        f'<div class="bewertung" data-antwort="{number}">'
        f'<div class="bewertung-fuer" id="bewertung-fuer">Bewertung für Antwort {number}{of}: '
        f"„{html.escape(question)}“</div>"
        f'<div class="bewertung-knoepfe" role="group" aria-labelledby="bewertung-fuer">{buttons}'
        f'<span class="bewertung-stand">{state}</span></div></div>'
    )


def rating_view(conversation: list[ChatMessage], turn: int | None) -> tuple[Any, str]:
    """(feedback box, buttons): the box only when there is an answer to rate."""
    visible = rated_turn(conversation, turn) is not None
    return gr.update(visible=visible), rating_html(conversation, turn)


def rate(
    service: Service, conversation: list[ChatMessage], turn: int | None, comment: str, evt: gr.EventData
) -> tuple[Any, ...]:
    """A click on 👍 or 👎: (note, comment box, conversation, buttons)."""
    data: dict[str, Any] = getattr(evt, "_data", None) or {}
    vote = data.get("vote")
    if vote not in _LABELS:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    note, comment = send_feedback(service, vote, conversation, turn, comment)
    if rated_turn(conversation, turn) is None:
        return note, comment, gr.skip(), gr.skip()
    assert turn is not None
    conversation = list(conversation)
    conversation[turn] = {**conversation[turn], "vote": vote}
    return note, comment, conversation, rating_html(conversation, turn)
