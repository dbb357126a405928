"""The browser chat (Gradio): streamed German answers with [n] markers, source cards, the whole
document with the cited passage highlighted, filters, feedback and a staff area.

Layout (``_layout_*``) and event wiring (``_wire_*``) are kept apart; the handlers are small
functions of a :class:`Service`, which holds the current :class:`Assistant` and swaps it
atomically after a re-index, so every session sees a changed corpus without a restart.

Everything a document contains is HTML-escaped before it reaches the page: a document's own
HTML or ``<script>`` is shown as text and never runs.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import gradio as gr

from .answer import Answer
from .chat_render import (
    NO_DOCUMENT,
    NO_SOURCES,
    answer_markdown,
    document_choices,
    document_rows,
    index_status,
    md_escape,
    render_document,
    render_sources,
    report_markdown,
    source_entries,
)
from .chat_service import (
    DEFAULT_CONCURRENCY,
    MAX_QUESTION_CHARS,
    PASSWORD_ENV,
    Service,
    make_filters,
)
from .config import Settings
from .errors import AssistantError
from .indexing import BuildReport, build_index
from .loaders import SUPPORTED_SUFFIXES
from .pipeline import staleness
from .store import current_generation, read_manifest
from .types import SearchFilters

log = logging.getLogger(__name__)

TITLE = "Cluster-Dokumenten-Assistent"
INTRO = ("Fragen Sie auf Deutsch zu den Dokumenten des Clusters: Förderprogramme, Veranstaltungen, "
         "Projekte. Jede Antwort nennt ihre Quellen mit [n]; ein Klick auf eine Quelle zeigt die "
         "Stelle im Dokument.")
PLACEHOLDER = "Ihre Frage, z. B. „Wer wurde zum ClusterERFOLG 2022 gewählt?“"
THINKING = "Ich suche in den Dokumenten …"
STAFF_DISABLED = (f"**Der Mitarbeiterbereich ist ausgeschaltet.** Zum Einschalten die Umgebungsvariable "
                  f"`{PASSWORD_ENV}` mit einem Passwort setzen und den Assistenten neu starten.")

EXAMPLES: dict[str, list[str]] = {
    "KMU: Förderprogramme und Unterstützung": [
        "Welches Budget hat das COSME-Programm?",
        "Wie hilft das Digitalwerk Werder kleinen und mittleren Unternehmen?",
        "Welche Unterstützung bietet das Programm go-cluster?",
    ],
    "Netzwerkmanagement: vergangene Veranstaltungen": [
        "Welche Veranstaltungen gab es 2022?",
        "Wann fand das Jahrestreffen von go-cluster 2022 statt?",
        "Wo fand der Sommerempfang von In|Die RegionWestfalen statt?",
    ],
    "Evaluation: Ergebnisse und Wirkung": [
        "Wer wurde zum ClusterERFOLG 2022 gewählt?",
        "Wie viele Teilnehmende kamen zum Sommerempfang?",
        "Welche Ziele hatte das Cluster Excellence Management Training?",
    ],
}

CSS = """
.quellen { display: flex; flex-direction: column; gap: 0.6rem; }
.quellen-kopf { font-weight: 600; }
.quellen-frage { color: var(--body-text-color-subdued); font-weight: 400; }
.quelle { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem;
          background: var(--background-fill-secondary); }
.quelle-titel { font-weight: 600; }
.quelle-nr { font-weight: 700; margin-right: 0.3rem; color: var(--color-accent); }
.quelle-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.15rem 0 0.35rem; }
.quelle-text { margin: 0 0 0.45rem; padding-left: 0.6rem; border-left: 3px solid var(--border-color-accent);
               white-space: pre-wrap; }
.quelle button { cursor: pointer; border: 1px solid var(--border-color-primary); border-radius: 6px;
                 padding: 0.2rem 0.6rem; background: var(--button-secondary-background-fill);
                 font-size: 0.9em; font-weight: 500; }
.quelle button:hover { background: var(--button-secondary-background-fill-hover); }
mark.satz, mark.zitat { background: #ffe58a; color: #000; padding: 0 0.1em; border-radius: 2px; }
.passage { background: #eef4ff; }
.dokument-kopf h3 { margin: 0 0 0.2rem; }
.dokument-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.4rem; }
.dokument-hinweis { font-size: 0.85em; color: #8a5300; margin-bottom: 0.4rem; }
.dokument-text { white-space: pre-wrap; max-height: 60vh; overflow-y: auto; line-height: 1.5;
                 border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem; }
.quellen-leer, .dokument-leer { color: var(--body-text-color-subdued); font-style: italic; }
"""

# The source cards call back with the answer's turn and the citation number.
SOURCES_JS = """
element.addEventListener('click', (event) => {
  const card = event.target.closest('[data-quelle]');
  if (!card) return;
  trigger('click', {turn: Number(card.dataset.turn), n: Number(card.dataset.quelle)});
});
"""
# After a document is shown, bring the cited passage into view.
DOCUMENT_JS = """
watch('value', () => {
  requestAnimationFrame(() => {
    const mark = element.querySelector('mark.zitat');
    if (mark) mark.scrollIntoView({block: 'center'});
  });
});
"""




# --- handlers ------------------------------------------------------------------------------

def _display(conversation: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m.get("display", md_escape(m["content"]))} for m in conversation]


def _history(conversation: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat history as the pipeline reads it: role/content messages, the answers' citations
    in ``metadata`` (so a follow-up can prefer the documents just cited)."""
    return [{"role": m["role"], "content": m["content"], "metadata": m.get("metadata") or {}}
            for m in conversation]


def respond(service: Service, question: str, conversation: list[dict[str, Any]], date_from: Any,
            date_to: Any, doc_ids: list[str] | None) -> Iterator[tuple[Any, ...]]:
    """Stream one answer: (chat, conversation, sources, selected turn, input box, feedback note)."""
    question = _checked_question(question)
    filters = make_filters(date_from, date_to, doc_ids)
    assistant = service.assistant  # this answer stays with one index generation
    history = _history(conversation)
    shown = _display(conversation) + [{"role": "user", "content": md_escape(question)},
                                      {"role": "assistant", "content": THINKING}]
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
        {"role": "assistant", "content": answer.text, "display": answer_markdown(answer),
         "metadata": {"citations": [c.to_json() for c in answer.citations]},
         "question": question, "sources": entries, "abstained": answer.abstained,
         "filters": _filters_json(filters)},
    ]
    yield (_display(conversation), conversation, render_sources(entries, turn, question, assistant.index),
           turn, "", "")


def _checked_question(question: str | None) -> str:
    question = (question or "").strip()
    if not question:
        raise gr.Error("Bitte eine Frage eingeben.")
    if len(question) > MAX_QUESTION_CHARS:
        raise gr.Error(f"Die Frage ist zu lang (höchstens {MAX_QUESTION_CHARS} Zeichen).")
    return question


def _filters_json(filters: SearchFilters | None) -> dict[str, Any] | None:
    if filters is None:
        return None
    return {"doc_ids": sorted(filters.doc_ids) if filters.doc_ids else None,
            "date_from": filters.date_from.isoformat() if filters.date_from else None,
            "date_to": filters.date_to.isoformat() if filters.date_to else None}


def open_source(service: Service, conversation: list[dict[str, Any]], evt: gr.EventData) -> str:
    data = getattr(evt, "_data", None) or {}
    try:
        turn, n = int(data.get("turn")), int(data.get("n"))
    except (TypeError, ValueError):
        return gr.skip()
    if not 0 <= turn < len(conversation) or conversation[turn]["role"] != "assistant":
        return NO_DOCUMENT
    entry = next((e for e in conversation[turn].get("sources", ()) if e["n"] == n), None)
    if entry is None:
        return NO_DOCUMENT
    return render_document(service.assistant.index, entry, nonce=f"{turn}-{n}-{time.time_ns()}")


def select_answer(service: Service, conversation: list[dict[str, Any]], evt: gr.SelectData) -> tuple[Any, ...]:
    """Clicking an earlier answer in the chat shows its sources (and makes it the one rated)."""
    index = evt.index if isinstance(evt.index, int) else evt.index[0]
    if not 0 <= index < len(conversation):
        return gr.skip(), gr.skip()
    if conversation[index]["role"] == "user" and index + 1 < len(conversation):
        index += 1
    message = conversation[index]
    if message["role"] != "assistant":
        return gr.skip(), gr.skip()
    return render_sources(message.get("sources", []), index, message.get("question", ""),
                          service.assistant.index), index


def new_conversation() -> tuple[Any, ...]:
    return [], [], NO_SOURCES, NO_DOCUMENT, None, "", "", ""


def send_feedback(service: Service, vote: str, conversation: list[dict[str, Any]], turn: int | None,
                  comment: str) -> tuple[str, str]:
    if turn is None or not 0 <= turn < len(conversation) or conversation[turn]["role"] != "assistant":
        return "Es gibt noch keine Antwort, die Sie bewerten könnten.", comment
    message = conversation[turn]
    service.feedback.add({
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vote": vote,
        "comment": (comment or "").strip(),
        "question": message.get("question", ""),
        "answer": message["content"],
        "abstained": message.get("abstained", False),
        "sources": [{k: e[k] for k in ("n", "doc_id", "chunk_id", "title", "date", "start", "end", "quote")}
                    for e in message.get("sources", ())],
        "filters": message.get("filters"),
    })
    return ("Danke für Ihre Rückmeldung! 👍" if vote == "up" else "Danke für Ihre Rückmeldung – wir sehen uns das an."), ""


def ask_api(service: Service, question: str) -> dict[str, Any]:
    """The object `assistant ask --json` prints: question, answer, abstained, citations, hits."""
    question = _checked_question(question)
    answer = service.assistant.ask(question)
    return {"question": question, **answer.to_json()}


def _progress_callback(progress: gr.Progress) -> Callable[[str, int, int], None]:
    def update(stage: str, done: int, total: int) -> None:
        progress((done, max(total, 1)), desc=stage)
    return update


def _staff_outputs(service: Service, message: str) -> tuple[Any, ...]:
    index = service.assistant.index
    choices = document_choices(index)
    return (message, document_rows(index), gr.update(choices=[c[1] for c in choices], value=None),
            gr.update(choices=choices), index_status(service))


def _reindex_message(service: Service, progress: gr.Progress, prefix: str) -> str:
    try:
        report = service.reindex(_progress_callback(progress))
    except AssistantError as exc:
        return f"{prefix}\n\n**Fehler beim Indexieren:** {md_escape(str(exc))}"
    return report_markdown(report, prefix)


def staff_login(service: Service, password: str) -> tuple[Any, ...]:
    if not service.check_password(password):
        time.sleep(0.5)  # slows down guessing
        return False, gr.update(visible=True), gr.update(visible=False), "Das Passwort stimmt nicht.", ""
    return True, gr.update(visible=False), gr.update(visible=True), "", ""


def staff_logout() -> tuple[Any, ...]:
    return False, gr.update(visible=True), gr.update(visible=False), "Abgemeldet.", ""


def _require_staff(logged_in: bool) -> None:
    if not logged_in:
        raise gr.Error("Bitte zuerst im Mitarbeiterbereich anmelden.")


def staff_refresh(service: Service, logged_in: bool) -> tuple[Any, ...]:
    _require_staff(logged_in)
    return _staff_outputs(service, "")


def staff_upload(service: Service, logged_in: bool, files: list[str] | None,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    _require_staff(logged_in)
    if not files:
        return _staff_outputs(service, "Bitte zuerst Dateien auswählen.") + (None,)
    saved, problems = service.add_files(files)
    lines = [f"Hochgeladen: {md_escape(', '.join(saved))}" if saved else "Keine Datei übernommen."]
    lines += [f"- {md_escape(p)}" for p in problems]
    message = "\n".join(lines)
    if saved:
        message = _reindex_message(service, progress, message)
    return _staff_outputs(service, message) + (None,)


def staff_delete(service: Service, logged_in: bool, doc_id: str | None,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    _require_staff(logged_in)
    if not doc_id:
        return _staff_outputs(service, "Bitte ein Dokument auswählen.")
    problem = service.remove_document(doc_id)
    if problem:
        return _staff_outputs(service, md_escape(problem))
    return _staff_outputs(service, _reindex_message(service, progress, f"Gelöscht: {md_escape(doc_id)}"))


def staff_reindex(service: Service, logged_in: bool, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    _require_staff(logged_in)
    return _staff_outputs(service, _reindex_message(service, progress, ""))


def on_load(service: Service) -> tuple[Any, ...]:
    return gr.update(choices=document_choices(service.assistant.index)), index_status(service)


# --- layout --------------------------------------------------------------------------------

@dataclass
class ChatUI:
    conversation: gr.State
    turn: gr.State
    status: gr.Markdown
    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    new: gr.Button
    sources: gr.HTML
    document: gr.HTML
    date_from: gr.DateTime
    date_to: gr.DateTime
    docs: gr.Dropdown
    up: gr.Button
    down: gr.Button
    comment: gr.Textbox
    feedback_note: gr.Markdown


@dataclass
class StaffUI:
    logged_in: gr.State
    login_box: gr.Column
    password: gr.Textbox
    login: gr.Button
    login_note: gr.Markdown
    panel: gr.Column
    logout: gr.Button
    files: gr.File
    upload: gr.Button
    table: gr.Dataframe
    delete_choice: gr.Dropdown
    delete: gr.Button
    reindex: gr.Button
    message: gr.Markdown


def _layout_chat() -> ChatUI:
    conversation, turn = gr.State([]), gr.State(None)
    status = gr.Markdown(elem_id="index-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Gespräch", height=430, elem_id="chat", feedback_options=None,
                                 latex_delimiters=[], buttons=["copy"], autoscroll=True,
                                 placeholder="Stellen Sie eine Frage – oder wählen Sie unten ein Beispiel.")
            with gr.Row():
                question = gr.Textbox(show_label=False, placeholder=PLACEHOLDER, scale=5, lines=1,
                                      max_lines=4, elem_id="frage", submit_btn=False)
                send = gr.Button("Senden", variant="primary", scale=1, elem_id="senden")
                new = gr.Button("Neues Gespräch", scale=1, elem_id="neu")
            up, down, comment, feedback_note = _layout_feedback()
            _layout_examples(question)
        with gr.Column(scale=2):
            date_from, date_to, docs = _layout_filters()
            sources = gr.HTML(NO_SOURCES, elem_id="quellen", js_on_load=SOURCES_JS)
    with gr.Accordion("Dokument", open=True, elem_id="dokument-bereich"):
        document = gr.HTML(NO_DOCUMENT, elem_id="dokument", js_on_load=DOCUMENT_JS)
    return ChatUI(conversation, turn, status, chatbot, question, send, new, sources, document,
                  date_from, date_to, docs, up, down, comment, feedback_note)


def _layout_feedback() -> tuple[gr.Button, gr.Button, gr.Textbox, gr.Markdown]:
    with gr.Row(equal_height=False, elem_id="feedback"):
        comment = gr.Textbox(label="War die Antwort hilfreich?", scale=4, lines=1, elem_id="kommentar",
                             placeholder="Kommentar (optional), z. B. was gefehlt hat")
        with gr.Column(scale=1, min_width=160):
            up = gr.Button("👍 Ja", size="md", elem_id="daumen-hoch")
            down = gr.Button("👎 Nein", size="md", elem_id="daumen-runter")
    feedback_note = gr.Markdown(elem_id="feedback-hinweis")
    return up, down, comment, feedback_note


def _layout_examples(question: gr.Textbox) -> None:
    with gr.Accordion("Beispielfragen", open=True):
        for label, questions in EXAMPLES.items():
            gr.Examples(examples=[[q] for q in questions], inputs=[question], label=label)


def _layout_filters() -> tuple[gr.DateTime, gr.DateTime, gr.Dropdown]:
    with gr.Accordion("Filter", open=False, elem_id="filter"):
        date_from = gr.DateTime(label="Datum von", include_time=False, type="string", elem_id="datum-von")
        date_to = gr.DateTime(label="Datum bis", include_time=False, type="string", elem_id="datum-bis")
        docs = gr.Dropdown(label="Nur in diesen Dokumenten", multiselect=True, choices=[], elem_id="dokumente")
    return date_from, date_to, docs


def _layout_staff(enabled: bool) -> StaffUI | None:
    if not enabled:
        gr.Markdown(STAFF_DISABLED, elem_id="mitarbeiter-aus")
        return None
    logged_in = gr.State(False)
    with gr.Column(visible=True) as login_box:
        password = gr.Textbox(label="Passwort", type="password", elem_id="passwort")
        login = gr.Button("Anmelden", variant="primary", elem_id="anmelden")
    login_note = gr.Markdown()
    with gr.Column(visible=False) as panel:
        with gr.Row(equal_height=True):
            gr.Markdown("Angemeldet im Mitarbeiterbereich.")
            logout = gr.Button("Abmelden", size="sm", scale=0, min_width=120)
        gr.Markdown(f"**Dokumente hochladen** ({', '.join(SUPPORTED_SUFFIXES)}); danach wird der Index "
                    "aktualisiert und der Chat findet sie sofort.")
        files = gr.File(label="Dateien", file_count="multiple", file_types=list(SUPPORTED_SUFFIXES),
                        type="filepath", elem_id="hochladen-dateien")
        upload = gr.Button("Hochladen und indexieren", variant="primary", elem_id="hochladen")
        message = gr.Markdown(elem_id="staff-meldung")
        table = gr.Dataframe(headers=["Dokument", "Titel", "Datum", "Abschnitte"], interactive=False,
                             wrap=True, label="Dokumente im Index", elem_id="dokumentliste",
                             column_widths=["32%", "43%", "15%", "10%"])
        with gr.Row():
            delete_choice = gr.Dropdown(label="Dokument löschen", choices=[], scale=3, elem_id="loeschen-wahl")
            delete = gr.Button("Löschen", variant="stop", scale=1, elem_id="loeschen")
        reindex = gr.Button("Index neu einlesen", elem_id="neu-indexieren")
    return StaffUI(logged_in, login_box, password, login, login_note, panel, logout, files, upload,
                   table, delete_choice, delete, reindex, message)


# --- wiring --------------------------------------------------------------------------------

PRIVATE = {"api_visibility": "private"}
STAFF = {"api_visibility": "private", "concurrency_id": "staff", "concurrency_limit": 1}


def _wire_chat(ui: ChatUI, service: Service) -> None:
    inputs = [ui.question, ui.conversation, ui.date_from, ui.date_to, ui.docs]
    outputs = [ui.chatbot, ui.conversation, ui.sources, ui.turn, ui.question, ui.feedback_note]

    def chat_turn(question, conversation, date_from, date_to, docs):
        yield from respond(service, question, conversation, date_from, date_to, docs)

    ui.send.click(chat_turn, inputs, outputs, **PRIVATE)
    ui.question.submit(chat_turn, inputs, outputs, **PRIVATE)
    reset = [ui.chatbot, ui.conversation, ui.sources, ui.document, ui.turn, ui.question, ui.comment,
             ui.feedback_note]
    ui.new.click(new_conversation, None, reset, **PRIVATE)
    ui.chatbot.clear(new_conversation, None, reset, **PRIVATE)  # the chat's own bin icon

    def show_document(conversation, evt: gr.EventData):
        return open_source(service, conversation, evt)

    def show_sources(conversation, evt: gr.SelectData):
        return select_answer(service, conversation, evt)

    ui.sources.click(show_document, [ui.conversation], [ui.document], **PRIVATE)
    ui.chatbot.select(show_sources, [ui.conversation], [ui.sources, ui.turn], **PRIVATE)
    for button, vote in ((ui.up, "up"), (ui.down, "down")):
        button.click(lambda c, t, m, vote=vote: send_feedback(service, vote, c, t, m),
                     [ui.conversation, ui.turn, ui.comment], [ui.feedback_note, ui.comment], **PRIVATE)


def _wire_staff(ui: StaffUI, chat: ChatUI, service: Service) -> None:
    listing = [ui.message, ui.table, ui.delete_choice, chat.docs, chat.status]
    login_outputs = [ui.logged_in, ui.login_box, ui.panel, ui.login_note, ui.password]
    for trigger in (ui.login.click, ui.password.submit):
        trigger(lambda p: staff_login(service, p), [ui.password], login_outputs, **PRIVATE).then(
            lambda ok: staff_refresh(service, ok) if ok else (gr.skip(),) * 5, [ui.logged_in], listing,
            **PRIVATE)
    ui.logout.click(staff_logout, None, login_outputs, **PRIVATE)

    def upload(ok, files, progress=gr.Progress()):
        return staff_upload(service, ok, files, progress)

    def delete(ok, doc_id, progress=gr.Progress()):
        return staff_delete(service, ok, doc_id, progress)

    def reindex(ok, progress=gr.Progress()):
        return staff_reindex(service, ok, progress)

    ui.upload.click(upload, [ui.logged_in, ui.files], listing + [ui.files], **STAFF)
    ui.delete.click(delete, [ui.logged_in, ui.delete_choice], listing, **STAFF)
    ui.reindex.click(reindex, [ui.logged_in], listing, **STAFF)


def build_app(settings: Settings, data_dir: Path | None = None, staff_password: str | None = None,
              service: Service | None = None) -> gr.Blocks:
    """The Gradio app over ``settings`` (the index must exist). Launch it with :func:`launch`."""
    service = service or Service(settings, data_dir, staff_password)
    # Uploads wait in Gradio's cache only until copied into the corpus; a day later they go.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tab("Chat", id="chat-tab"):
            chat = _layout_chat()
        with gr.Tab("Mitarbeiterbereich", id="staff-tab"):
            staff = _layout_staff(service.staff_enabled)
        _wire_chat(chat, service)
        if staff is not None:
            _wire_staff(staff, chat, service)
        demo.load(lambda: on_load(service), None, [chat.docs, chat.status], **PRIVATE)

        def ask(question: str) -> dict:
            """Answer a German question from the documents; returns what `assistant ask --json`
            prints: question, answer, abstained, citations, hits."""
            return ask_api(service, question)

        gr.api(ask, api_name="ask")
    demo.service = service  # type: ignore[attr-defined]
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860,
           concurrency: int = DEFAULT_CONCURRENCY, **kwargs: Any) -> Any:
    """Serve ``demo``: queued, ``concurrency`` answers at a time, uploads limited to the
    corpus' file size limit, loopback unless ``host`` says otherwise."""
    service: Service = demo.service  # type: ignore[attr-defined]
    demo.queue(default_concurrency_limit=concurrency, max_size=256)
    return demo.launch(server_name=host, server_port=port, css=CSS, theme=gr.themes.Default(),
                       max_file_size=service.settings.max_file_bytes, ssr_mode=False, share=False,
                       footer_links=["api"], show_error=False, **kwargs)


def ensure_index(settings: Settings, out: Any = None) -> BuildReport | None:
    """Build or update the index when it is missing or older than the corpus; progress on ``out``."""
    out = out or sys.stderr
    reason = None
    if current_generation(settings.index_dir) is None:
        reason = f"Noch kein Index in {settings.index_dir}; er wird jetzt gebaut."
    else:
        try:
            reason = staleness(settings, read_manifest(settings.index_dir))
        except AssistantError as exc:
            reason = f"Index nicht nutzbar ({exc}); er wird neu gebaut."
    if reason is None:
        return None
    print(reason, file=out)
    report = build_index(settings, progress=_print_progress(out) if settings.progress else None)
    print(f"Index fertig: {report.documents} Dokumente, {report.chunks} Abschnitte ({report.seconds:.1f} s).",
          file=out)
    for item in report.skipped:
        print(f"  übersprungen: {item.path}: {item.reason}", file=out)
    return report


def _print_progress(out: Any) -> Callable[[str, int, int], None]:
    last: dict[str, int] = {}

    def show(stage: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        step = percent // 25 * 25
        if last.get(stage) == step:
            return
        last[stage] = step
        print(f"  {stage}: {done}/{total} ({percent} %)", file=out, flush=True)

    return show


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> int:
    """``assistant chat``: index if needed, then serve until interrupted."""
    ensure_index(settings)
    demo = build_app(settings)
    service: Service = demo.service  # type: ignore[attr-defined]
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Achtung: Der Chat ist unter {host} auch von anderen Rechnern erreichbar.", file=sys.stderr)
    if not service.staff_enabled:
        print(f"Mitarbeiterbereich aus ({PASSWORD_ENV} nicht gesetzt).", file=sys.stderr)
    print(f"Rückmeldungen werden gespeichert in {service.feedback.path}", file=sys.stderr)
    launch(demo, host, port)
    return 0

