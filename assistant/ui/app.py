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
from .filters import after_answer, reset_filters, search_without_filter, show_filters
from .gate import COOKIE_JS, UploadGate, queue_only_queued_events
from .german import gradio_i18n
from .history import delete, reopen, save, show_list
from .layout import INTRO, TITLE, ChatUI, StaffUI, layout_chat, layout_staff
from .memory import browser_secret
from .rating import rate, rating_view
from .render import staff_status
from .service import DEFAULT_CONCURRENCY, Service
from .static import CSS, PAGE_JS
from .sync import REFRESH_S, ask_delete, cancel_delete, refresh_lists

CACHE_SWEEP = (900, 3600)  # Gradio's delete_cache: every 15 min, what is older than an hour

# Every event is api_visibility="private": the only API endpoint is /ask. Staff actions (builds)
# share one queue slot: concurrency_id "staff", limit 1; the login is not queued at all.


def _answer_steps(ui: ChatUI, service: Service, trigger: Any) -> None:
    """One chat turn on ``trigger`` (an event listener such as ``ui.send.click`` or a ``.then``
    of an earlier step): the streamed answer, then the conversation saved in the browser, then
    the rating buttons for the new answer."""

    def chat_turn(question, conversation, date_from, date_to, docs):
        yield from respond(service, question, conversation, date_from, date_to, docs)

    inputs = [ui.question, ui.conversation, ui.date_from, ui.date_to, ui.docs]
    outputs = [ui.chatbot, ui.conversation, ui.sources, ui.turn, ui.question, ui.feedback_note]
    trigger(chat_turn, inputs, outputs, api_visibility="private").success(
        save,
        [ui.conversation, ui.history.current, ui.history.store],
        [ui.history.current, ui.history.store],
        api_visibility="private",
    ).then(rating_view, [ui.conversation, ui.turn], [ui.feedback_box, ui.rating], api_visibility="private")


def _wire_chat(ui: ChatUI, service: Service) -> None:
    for trigger in (ui.send.click, ui.question.submit):
        _answer_steps(ui, service, trigger)
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


def _wire_filters(ui: ChatUI, service: Service) -> None:
    """The filter line above the chat follows the form (on leaving or submitting a date field,
    on choosing documents) and each answer; its reset, "Neues Gespräch" and the chat's bin
    empty the filters; "Ohne Filter suchen" empties them and asks the last question again."""
    fields = [ui.date_from, ui.date_to, ui.docs]
    bar = ui.filter_bar
    shown = [bar.row, bar.text, bar.without, ui.filter_note]

    def refresh(date_from, date_to, docs, conversation):
        return show_filters(service, date_from, date_to, docs, conversation)

    def answered(date_from, date_to, docs, conversation):
        return after_answer(service, date_from, date_to, docs, conversation)

    for field in (ui.date_from, ui.date_to):
        for trigger in (field.blur, field.submit):
            trigger(refresh, fields + [ui.conversation], shown, api_visibility="private", queue=False)
    ui.docs.change(refresh, fields + [ui.conversation], shown, api_visibility="private", queue=False)
    ui.conversation.change(answered, fields + [ui.conversation], shown, api_visibility="private", queue=False)
    for trigger in (bar.reset.click, ui.new.click, ui.chatbot.clear):
        trigger(reset_filters, None, fields + shown, api_visibility="private", queue=False)

    emptied = bar.without.click(
        search_without_filter, [ui.conversation], fields + shown + [ui.question], api_visibility="private", queue=False
    )
    _answer_steps(ui, service, emptied.then)


def _wire_staff(ui: StaffUI, chat: ChatUI, service: Service) -> None:
    listing: list[gr.blocks.Block] = [ui.message, ui.table, ui.delete_choice, chat.docs, chat.status]

    def show_status(session):  # after each step that shows or changes the lists: staff's view of the index
        return staff_status(service) if service.staff_sessions.valid(session) else gr.skip()

    status: dict[str, Any] = {"fn": show_status, "inputs": [ui.session], "outputs": [ui.status]}
    status["api_visibility"] = "private"

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
        ).then(**status, queue=False)
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
    ).then(**status)
    # Delete in two steps: the button asks, "Ja, löschen" deletes, "Abbrechen" folds the question.
    confirm_outputs = [ui.confirm_row, ui.confirm_text, ui.message]
    ui.delete.click(
        lambda session, doc_id: ask_delete(service, session, doc_id),
        [ui.session, ui.delete_choice],
        confirm_outputs,
        api_visibility="private",
    )
    ui.cancel.click(cancel_delete, None, confirm_outputs, api_visibility="private")
    ui.confirm.click(
        lambda: (gr.update(visible=False), ""), None, [ui.confirm_row, ui.confirm_text], api_visibility="private"
    ).then(
        delete,
        [ui.session, ui.delete_choice],
        listing,
        api_visibility="private",
        concurrency_id="staff",
        concurrency_limit=1,
    ).then(**status)
    ui.reindex.click(
        reindex, [ui.session], listing, api_visibility="private", concurrency_id="staff", concurrency_limit=1
    ).then(**status)


def _wire_refresh(chat: ChatUI, staff: StaffUI | None, service: Service) -> None:
    """Every open page asks every few seconds whether the index changed (off the queue, and
    answered without reading the index when it did not), so a re-index in one tab reaches the
    others without a reload."""
    known = gr.State("")  # the first tick sends the lists once, then only after a change
    timer = gr.Timer(REFRESH_S)
    session: gr.State = staff.session if staff is not None else gr.State("")
    outputs: list[gr.blocks.Block] = [known, chat.docs, chat.status]
    if staff is not None:
        outputs += [staff.table, staff.delete_choice, staff.status]

    def tick(session_token: str, version: str) -> tuple[Any, ...]:
        return refresh_lists(service, session_token, version)[: len(outputs)]

    timer.tick(tick, [session, known], outputs, api_visibility="private", queue=False, show_progress="hidden")


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
        _wire_filters(chat, service)
        _wire_history(chat, page, service)
        if staff is not None:
            _wire_staff(staff, chat, service)
        page.load(lambda: on_load(service), None, [chat.docs, chat.status], api_visibility="private")
        _wire_refresh(chat, staff, service)

        def ask(
            question: str,
            history: list[str | list[Any] | dict[str, Any]] | None = None,
            date_from: str | None = None,
            date_to: str | None = None,
            documents: list[str] | None = None,
        ) -> dict:
            """Answer a German question from the documents; returns what `assistant ask --json`
            prints: question, answer, abstained, citations, hits. Optional, as in the chat:
            history (earlier questions, or {question, answer} / [question, answer] pairs),
            date_from and date_to (TT.MM.JJJJ or JJJJ-MM-TT), documents (document ids)."""
            return ask_api(service, question, history, date_from, date_to, documents)

        gr.api(ask, api_name="ask")
    return ChatApp(page, service)


def fill_api_defaults(page: gr.Blocks) -> None:
    """Make ``page``'s queue (after ``page.queue()``) fill in the optional arguments an API
    call over plain HTTP leaves out (``{"data": [question]}`` to /gradio_api/call/ask):
    gradio_client sends every argument, Gradio itself refuses a call with fewer. Wraps
    ``Queue.push`` like :func:`~.gate.queue_only_queued_events`."""
    queue: Any = page._queue
    push = queue.push

    async def push_with_defaults(body: Any, request: Any, username: Any) -> Any:
        fn = page.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is not None and fn.api_name == "ask" and isinstance(body.data, list):
            defaults = [getattr(block, "value", None) for block in fn.inputs]
            body.data = body.data + defaults[len(body.data) :]
        return await push(body, request, username)

    queue.push = push_with_defaults


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
    fill_api_defaults(app.page)  # /ask over plain HTTP with the question only
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [
        *app_kwargs.get("middleware", ()),
        Middleware(UploadGate, sessions=app.service.staff_sessions),
    ]
    return app.page.launch(
        server_name=host,
        server_port=port,
        css=CSS,
        js=PAGE_JS,
        i18n=gradio_i18n(),
        theme=gr.themes.Default(),
        max_file_size=app.service.settings.max_file_bytes,
        ssr_mode=False,
        share=False,
        footer_links=["api"],
        show_error=False,
        app_kwargs=app_kwargs,
        **kwargs,
    )
