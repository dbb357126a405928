"""What happens when a user acts in the chat: one small function per event, over the shared
:class:`~.service.Service`. The project's errors become Gradio messages here and only here
(:func:`user_errors`); document text is escaped by :mod:`.render` before it reaches the page."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypedDict

import gradio as gr

from ..errors import AssistantError
from ..pipeline import Assistant
from ..types import Answer, Progress, SearchFilters
from .feedback import VOTES, feedback_record
from .filters import answer_display
from .gate import discard_uploads
from .german import PROGRESS_UNIT
from .guard import wait_text
from .inputs import checked_documents, checked_history, checked_question, filters_json, make_filters
from .render import (
    NO_DOCUMENT,
    NO_SOURCES,
    SourceEntry,
    document_choices,
    document_rows,
    index_status,
    md_escape,
    render_document,
    render_sources,
    report_markdown,
    source_entries,
)
from .service import Service

THINKING = "Ich suche in den Dokumenten …"


class ChatMessage(TypedDict, total=False):
    """One message of the conversation as the chat keeps it (in a gr.State)."""

    role: str  # "user" | "assistant"
    content: str  # the question, or the answer's text
    display: str  # the answer as the chat shows it (Markdown, escaped)
    metadata: dict[str, Any]  # {"citations": [...]}: what a follow-up question reads
    question: str  # of an answer: the question it answers
    sources: list[SourceEntry]
    abstained: bool
    filters: dict[str, Any] | None
    answer_id: str  # what a vote for this answer names (one vote per answer)
    vote: str  # the vote given ("up" | "down"), shown as the pressed button


@contextmanager
def user_errors() -> Iterator[None]:
    """A project error raised while handling an event is shown to the user as a German message."""
    try:
        yield
    except AssistantError as exc:
        raise gr.Error(str(exc), title="Hinweis") from None


def _display(conversation: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m.get("display", md_escape(m["content"]))} for m in conversation]


def _history(conversation: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The chat history as the pipeline reads it: role/content messages, the answers' citations
    in ``metadata`` (so a follow-up can prefer the documents just cited)."""
    return [{"role": m["role"], "content": m["content"], "metadata": m.get("metadata") or {}} for m in conversation]


def respond(
    service: Service,
    question: str,
    conversation: list[ChatMessage],
    date_from: Any,
    date_to: Any,
    doc_ids: list[str] | None,
) -> Iterator[tuple[Any, ...]]:
    """Stream one answer: (chat, conversation, sources, selected turn, input box, feedback note)."""
    with user_errors():
        question = checked_question(question)
        filters = make_filters(date_from, date_to, doc_ids)
    with service.using() as assistant:  # this answer stays with one index generation
        yield from _stream_answer(assistant, question, filters, conversation)


def _stream_answer(
    assistant: Assistant, question: str, filters: SearchFilters | None, conversation: list[ChatMessage]
) -> Iterator[tuple[Any, ...]]:
    history = _history(conversation)
    shown = _display(conversation) + [
        {"role": "user", "content": md_escape(question)},
        {"role": "assistant", "content": THINKING},
    ]
    yield list(shown), gr.skip(), gr.skip(), gr.skip(), "", ""
    answer: Answer | None = None
    streamed = ""
    try:
        for event in assistant.ask_stream(question, history, filters):
            if isinstance(event, Answer):
                answer = event
            elif event:
                streamed += event
                shown[-1] = {"role": "assistant", "content": md_escape(streamed)}
                yield list(shown), gr.skip(), gr.skip(), gr.skip(), "", ""
    except AssistantError as exc:
        shown[-1] = {"role": "assistant", "content": md_escape(f"Fehler: {exc}")}
        yield list(shown), gr.skip(), gr.skip(), gr.skip(), "", ""
        return
    assert answer is not None
    entries = source_entries(answer, assistant.index)
    turn = len(conversation) + 1
    conversation = conversation + [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": answer.text,
            "display": answer_display(answer, filters),
            "metadata": {"citations": [c.to_json() for c in answer.citations]},
            "question": question,
            "sources": entries,
            "abstained": answer.abstained,
            "filters": filters_json(filters),
            "answer_id": uuid.uuid4().hex,
        },
    ]
    yield (_display(conversation), conversation, render_sources(entries, turn, question, assistant.index), turn, "", "")


def open_source(service: Service, conversation: list[ChatMessage], evt: gr.EventData) -> str:
    data: dict[str, Any] = getattr(evt, "_data", None) or {}
    try:
        turn, n = int(data["turn"]), int(data["n"])
    except (KeyError, TypeError, ValueError):
        return gr.skip()
    if not 0 <= turn < len(conversation) or conversation[turn]["role"] != "assistant":
        return NO_DOCUMENT
    entry = next((e for e in conversation[turn].get("sources", ()) if e["n"] == n), None)
    if entry is None:
        return NO_DOCUMENT
    with service.using() as assistant:
        return render_document(assistant.index, entry, nonce=f"{turn}-{n}-{time.time_ns()}")


def select_answer(service: Service, conversation: list[ChatMessage], evt: gr.SelectData) -> tuple[Any, ...]:
    """Clicking an earlier answer in the chat shows its sources (and makes it the one rated)."""
    index = evt.index if isinstance(evt.index, int) else evt.index[0]
    if not 0 <= index < len(conversation):
        return gr.skip(), gr.skip()
    if conversation[index]["role"] == "user" and index + 1 < len(conversation):
        index += 1
    message = conversation[index]
    if message["role"] != "assistant":
        return gr.skip(), gr.skip()
    with service.using() as assistant:
        return render_sources(message.get("sources", []), index, message.get("question", ""), assistant.index), index


def new_conversation() -> tuple[Any, ...]:
    return [], [], NO_SOURCES, NO_DOCUMENT, None, "", "", ""


def send_feedback(
    service: Service, vote: str, conversation: list[ChatMessage], turn: int | None, comment: str
) -> tuple[str, str]:
    """Store the vote for the answer at ``turn``: one vote per answer (a later one replaces it,
    the same one again stores nothing, see :class:`~.feedback.FeedbackStore`). (note, comment box)"""
    if turn is None or not 0 <= turn < len(conversation) or conversation[turn]["role"] != "assistant":
        return "Es gibt noch keine Antwort, die Sie bewerten könnten.", comment
    if vote not in VOTES:
        return gr.skip(), comment
    message = conversation[turn]
    number = sum(1 for m in conversation[: turn + 1] if m["role"] == "assistant")
    history = [m["content"] for m in conversation[: max(turn - 1, 0)] if m["role"] == "user"]
    record = feedback_record(dict(message), history, vote, comment, datetime.now(UTC).isoformat(timespec="seconds"))
    if not service.feedback.vote(record):
        return f"Ihre Bewertung für Antwort {number} ist schon gespeichert.", ""
    if message.get("vote") not in (None, vote):
        said = "👍 hilfreich" if vote == "up" else "👎 nicht hilfreich"
        return f"Bewertung für Antwort {number} geändert: {said}.", ""
    return (
        f"Danke für Ihre Rückmeldung zu Antwort {number}! 👍"
        if vote == "up"
        else f"Danke für Ihre Rückmeldung zu Antwort {number} – wir sehen uns das an."
    ), ""


def ask_api(
    service: Service,
    question: str,
    history: Any = None,
    date_from: Any = None,
    date_to: Any = None,
    documents: Any = None,
) -> dict[str, Any]:
    """The object `assistant ask --json` prints (question, answer, abstained, citations, hits),
    for ``question`` after the earlier turns in ``history`` (see
    :func:`~.inputs.checked_history`), limited like the chat's filters: dates ``date_from`` ..
    ``date_to`` (TT.MM.JJJJ or JJJJ-MM-TT) and ``documents`` (document ids)."""
    with user_errors():
        question = checked_question(question)
        turns = checked_history(history)
        with service.using() as assistant:
            filters = make_filters(date_from, date_to, checked_documents(documents, assistant.index.doc_rows))
            answer = assistant.ask(question, turns, filters)
    return {"question": question, **answer.to_json()}


def _progress_callback(progress: gr.Progress) -> Progress:
    def update(stage: str, done: int, total: int) -> None:
        progress((done, max(total, 1)), desc=stage, unit=PROGRESS_UNIT)

    return update


def _staff_outputs(service: Service, message: str) -> tuple[Any, ...]:
    """(message, table, delete choice, the chat's documents, chat status)."""
    with service.using() as assistant:
        index = assistant.index
        choices = document_choices(index)
        return (
            message,
            document_rows(index),
            gr.update(choices=[c[1] for c in choices], value=None),
            gr.update(choices=choices),
            index_status(service),
        )


def _reindex_message(service: Service, progress: gr.Progress, prefix: str) -> str:
    try:
        report = service.reindex(_progress_callback(progress))
    except AssistantError as exc:
        return f"{prefix}\n\n**Fehler beim Indexieren:** {md_escape(str(exc))}"
    return report_markdown(report, prefix)


def client_address(request: gr.Request | None) -> str:
    """The address a request came from: whom the login brake counts (and the log names)."""
    client = getattr(request, "client", None) if request is not None else None
    return str(getattr(client, "host", None) or "unbekannt")


def staff_login(service: Service, password: str, client: str = "unbekannt") -> tuple[Any, ...]:
    """(staff session, cookie box, note, password box): on success a new session's token for
    the state and for the page's cookie (uploads need it, see .gate). A wrong password, or any
    given during the wait after several wrong ones, is answered at once (nothing sleeps) and
    with plain values only: a Gradio update costs milliseconds to prepare, and a flood of
    logins must stay cheap. The panel is shown by :func:`staff_view`, chained after this."""
    attempt = service.login(client, password)
    if attempt.accepted:
        token = service.staff_sessions.open()
        return token, token, "", ""
    if not attempt.checked:
        note = (
            f"**Zu viele Fehlversuche.** Die Anmeldung ist noch {wait_text(attempt.wait_s)} gesperrt; "
            "bitte warten Sie und versuchen Sie es dann erneut."
        )
    elif attempt.wait_s:
        note = (
            f"Das Passwort stimmt nicht. Nach mehreren Fehlversuchen ist die Anmeldung jetzt "
            f"{wait_text(attempt.wait_s)} gesperrt."
        )
    else:
        note = "Das Passwort stimmt nicht."
    return "", "", note, ""


def staff_view(service: Service, session: str) -> tuple[Any, ...]:
    """After a login: (login box, panel, upload box) and the staff lists (message, table,
    delete choice, the chat's documents, status); nothing changes when the login failed."""
    if not service.staff_sessions.valid(session):
        return (gr.skip(),) * 8
    shown = (gr.update(visible=False), gr.update(visible=True), gr.update(interactive=True))
    return shown + _staff_outputs(service, "")


def staff_logout(service: Service, session: str) -> tuple[Any, ...]:
    """(session, cookie box, login box, panel, upload box, note, password box): the session
    ends on the server; the page's script then drops the cookie."""
    service.staff_sessions.close(session)
    return "", "", gr.update(visible=True), gr.update(visible=False), gr.update(interactive=False), "Abgemeldet.", ""


def _require_staff(service: Service, session: str, files: Sequence[str] = ()) -> None:
    if not service.staff_sessions.valid(session):
        discard_uploads(files)
        raise gr.Error("Bitte zuerst im Mitarbeiterbereich anmelden.", title="Hinweis")


def staff_upload(
    service: Service, session: str, files: list[str] | None, progress: gr.Progress = gr.Progress()
) -> tuple[Any, ...]:
    """Copy the uploaded files into the corpus and re-index. The uploads are deleted from
    Gradio's cache right away, also when they are refused (no staff session)."""
    _require_staff(service, session, files or ())
    if not files:
        return _staff_outputs(service, "Bitte zuerst Dateien auswählen.") + (None,)
    try:
        saved, problems = service.add_files(files)
    finally:
        discard_uploads(files)
    lines = [f"Hochgeladen: {md_escape(', '.join(saved))}" if saved else "Keine Datei übernommen."]
    lines += [f"- {md_escape(p)}" for p in problems]
    message = "\n".join(lines)
    if saved:
        message = _reindex_message(service, progress, message)
    return _staff_outputs(service, message) + (None,)


def staff_delete(
    service: Service, session: str, doc_id: str | None, progress: gr.Progress = gr.Progress()
) -> tuple[Any, ...]:
    _require_staff(service, session)
    if not doc_id:
        return _staff_outputs(service, "Bitte ein Dokument auswählen.")
    problem = service.remove_document(doc_id)
    if problem:
        return _staff_outputs(service, md_escape(problem))
    return _staff_outputs(service, _reindex_message(service, progress, f"Gelöscht: {md_escape(doc_id)}"))


def staff_reindex(service: Service, session: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    _require_staff(service, session)
    return _staff_outputs(service, _reindex_message(service, progress, ""))


def on_load(service: Service) -> tuple[Any, ...]:
    with service.using() as assistant:
        return gr.update(choices=document_choices(assistant.index)), index_status(service)
