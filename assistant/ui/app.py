"""The browser chat (Gradio): streamed German answers with [n] markers, source cards, the whole
document with the cited passage highlighted, filters, feedback and a staff area.

The layout is :mod:`.layout`, the handlers :mod:`.events`, the HTML :mod:`.render`; this module
wires events to components. The handlers are small functions of a :class:`~.service.Service`,
which holds the current :class:`~assistant.pipeline.Assistant` and swaps it atomically after a
re-index, so every session sees a changed corpus without a restart.

Everything a document contains is HTML-escaped before it reaches the page: a document's own
HTML or ``<script>`` is shown as text and never runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from ..config import Settings
from .events import (
    ask_api,
    client_address,
    new_conversation,
    on_load,
    open_source,
    respond,
    select_answer,
    staff_delete,
    staff_login,
    staff_logout,
    staff_reindex,
    staff_upload,
    staff_view,
)
from .gate import COOKIE_JS, UploadGate, queue_only_queued_events
from .history import delete, reopen, save, show_list
from .layout import INTRO, TITLE, ChatUI, StaffUI, layout_chat, layout_staff
from .memory import browser_secret
from .rating import rate, rating_view
from .service import DEFAULT_CONCURRENCY, Service
from .static import CSS

CACHE_SWEEP = (900, 3600)  # Gradio's delete_cache: every 15 min, what is older than an hour

# Every event is api_visibility="private": the only API endpoint is /ask. Staff actions (builds)
# share one queue slot: concurrency_id "staff", limit 1; the login is not queued at all.


def _wire_chat(ui: ChatUI, service: Service) -> None:
    inputs = [ui.question, ui.conversation, ui.date_from, ui.date_to, ui.docs]
    outputs = [ui.chatbot, ui.conversation, ui.sources, ui.turn, ui.question, ui.feedback_note]

    def chat_turn(question, conversation, date_from, date_to, docs):
        yield from respond(service, question, conversation, date_from, date_to, docs)

    for trigger in (ui.send.click, ui.question.submit):
        trigger(chat_turn, inputs, outputs, api_visibility="private").success(
            save,
            [ui.conversation, ui.history.current, ui.history.store],
            [ui.history.current, ui.history.store],
            api_visibility="private",
        ).then(rating_view, [ui.conversation, ui.turn], [ui.feedback_box, ui.rating], api_visibility="private")
    reset = [ui.chatbot, ui.conversation, ui.sources, ui.document, ui.turn, ui.question, ui.comment, ui.feedback_note]
    for trigger in (ui.new.click, ui.chatbot.clear):  # the chat's own bin icon clears it too
        trigger(new_conversation, None, reset, api_visibility="private").then(
            lambda: (None, gr.update(value=None), gr.update(visible=False)),
            None,
            [ui.history.current, ui.history.choice, ui.feedback_box],
            api_visibility="private",
        )

    def show_document(conversation, evt: gr.EventData):
        return open_source(service, conversation, evt)

    def show_sources(conversation, evt: gr.SelectData):
        return select_answer(service, conversation, evt)

    ui.sources.click(show_document, [ui.conversation], [ui.document], api_visibility="private")
    ui.chatbot.select(show_sources, [ui.conversation], [ui.sources, ui.turn], api_visibility="private").then(
        rating_view, [ui.conversation, ui.turn], [ui.feedback_box, ui.rating], api_visibility="private"
    )

    def vote(conversation, turn, comment, evt: gr.EventData):
        return rate(service, conversation, turn, comment, evt)

    ui.rating.click(
        vote,
        [ui.conversation, ui.turn, ui.comment],
        [ui.feedback_note, ui.comment, ui.conversation, ui.rating],
        api_visibility="private",
    ).success(
        save,
        [ui.conversation, ui.history.current, ui.history.store],
        [ui.history.current, ui.history.store],
        api_visibility="private",
    )


def _wire_history(ui: ChatUI, page: gr.Blocks, service: Service) -> None:
    """The list of earlier conversations: shown on load and whenever the browser's copy changes."""
    memory = ui.history
    gr.on(
        [page.load, memory.store.change],
        show_list,
        [memory.store, memory.current],
        [memory.choice, memory.delete, memory.note],
        api_visibility="private",
    )
    memory.choice.input(
        lambda store, chosen: reopen(service, store, chosen),
        [memory.store, memory.choice],
        [
            ui.chatbot,
            ui.conversation,
            ui.sources,
            ui.document,
            ui.turn,
            memory.current,
            ui.feedback_box,
            ui.rating,
            ui.feedback_note,
            memory.note,
        ],
        api_visibility="private",
    )
    memory.delete.click(
        delete,
        [memory.store, memory.choice, memory.current],
        [
            memory.store,
            memory.current,
            ui.chatbot,
            ui.conversation,
            ui.sources,
            ui.document,
            ui.turn,
            ui.feedback_box,
            memory.note,
        ],
        api_visibility="private",
    )


def _wire_staff(ui: StaffUI, chat: ChatUI, service: Service) -> None:
    listing: list[gr.blocks.Block] = [ui.message, ui.table, ui.delete_choice, chat.docs, chat.status]
    view: list[gr.blocks.Block] = [ui.login_box, ui.panel, ui.files]

    def login(password, request: gr.Request):
        return staff_login(service, password, client_address(request))

    # Off the queue: a flood of logins (each answered at once, see .guard) cannot fill the
    # queue the questions wait in. The cookie (the session's token, for uploads: see .gate)
    # and the panel follow in steps that only the page itself takes.
    for trigger in (ui.login.click, ui.password.submit):
        trigger(
            login,
            [ui.password],
            [ui.session, ui.cookie, ui.login_note, ui.password],
            api_visibility="private",
            queue=False,
        ).then(None, [ui.cookie], [ui.cookie], js=COOKIE_JS, api_visibility="private", queue=False).then(
            lambda session: staff_view(service, session),
            [ui.session],
            view + listing,
            api_visibility="private",
            queue=False,
        )
    ui.logout.click(
        lambda session: staff_logout(service, session),
        [ui.session],
        [ui.session, ui.cookie] + view + [ui.login_note, ui.password],
        api_visibility="private",
    ).then(None, [ui.cookie], [ui.cookie], js=COOKIE_JS, api_visibility="private", queue=False)

    def upload(session, files, progress=gr.Progress()):
        return staff_upload(service, session, files, progress)

    def delete(session, doc_id, progress=gr.Progress()):
        return staff_delete(service, session, doc_id, progress)

    def reindex(session, progress=gr.Progress()):
        return staff_reindex(service, session, progress)

    ui.upload.click(
        upload,
        [ui.session, ui.files],
        listing + [ui.files],
        api_visibility="private",
        concurrency_id="staff",
        concurrency_limit=1,
    )
    ui.delete.click(
        delete,
        [ui.session, ui.delete_choice],
        listing,
        api_visibility="private",
        concurrency_id="staff",
        concurrency_limit=1,
    )
    ui.reindex.click(
        reindex, [ui.session], listing, api_visibility="private", concurrency_id="staff", concurrency_limit=1
    )


@dataclass
class ChatApp:
    """The Gradio page and the service behind it."""

    page: gr.Blocks
    service: Service

    def close(self) -> None:
        self.page.close()


def build_app(
    settings: Settings, data_dir: Path | None = None, staff_password: str | None = None, service: Service | None = None
) -> ChatApp:
    """The Gradio app over ``settings`` (the index must exist). Launch it with :func:`launch`."""
    service = service or Service(settings, data_dir, staff_password)
    # Uploads (staff only, see .gate) leave Gradio's cache once copied into the corpus; one
    # chosen but never sent goes within the hour after the next quarter-hourly sweep.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_SWEEP) as page:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tab("Chat", id="chat-tab"):
            chat = layout_chat(browser_secret(service.data_dir))
        with gr.Tab("Mitarbeiterbereich", id="staff-tab"):
            staff = layout_staff(service.staff_enabled)
        _wire_chat(chat, service)
        _wire_history(chat, page, service)
        if staff is not None:
            _wire_staff(staff, chat, service)
        page.load(lambda: on_load(service), None, [chat.docs, chat.status], api_visibility="private")

        def ask(question: str) -> dict:
            """Answer a German question from the documents; returns what `assistant ask --json`
            prints: question, answer, abstained, citations, hits."""
            return ask_api(service, question)

        gr.api(ask, api_name="ask")
    return ChatApp(page, service)


def launch(
    app: ChatApp,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    concurrency: int = DEFAULT_CONCURRENCY,
    **kwargs: Any,
) -> Any:
    """Serve ``app``: queued, ``concurrency`` answers at a time, uploads only for logged-in
    staff (:class:`~.gate.UploadGate`) and limited to the corpus' file size limit, loopback
    unless ``host`` says otherwise."""
    app.page.queue(default_concurrency_limit=concurrency, max_size=256)
    queue_only_queued_events(app.page)  # the staff login stays out of it (see .gate)
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [
        *app_kwargs.get("middleware", ()),
        Middleware(UploadGate, sessions=app.service.staff_sessions),
    ]
    return app.page.launch(
        server_name=host,
        server_port=port,
        css=CSS,
        theme=gr.themes.Default(),
        max_file_size=app.service.settings.max_file_bytes,
        ssr_mode=False,
        share=False,
        footer_links=["api"],
        show_error=False,
        app_kwargs=app_kwargs,
        **kwargs,
    )
