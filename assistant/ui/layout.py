"""The chat's layout: which components, where; no behaviour (that is :mod:`.events`, wired in
:mod:`.app`). German texts of the page live here too."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..ingest.walk import SUPPORTED_SUFFIXES
from .history import HistoryUI, layout_history
from .render import NO_DOCUMENT, NO_SOURCES
from .service import PASSWORD_ENV
from .static import DOCUMENT_JS, RATING_JS, SOURCES_JS

TITLE = "Cluster-Dokumenten-Assistent"
INTRO = (
    "Fragen Sie auf Deutsch zu den Dokumenten des Clusters: Förderprogramme, Veranstaltungen, "
    "Projekte. Jede Antwort nennt ihre Quellen mit [n]; ein Klick auf eine Quelle zeigt die "
    "Stelle im Dokument."
)
DATE_PLACEHOLDER = "z. B. 01.01.2017"
PLACEHOLDER = "Ihre Frage, z. B. „Wer wurde zum ClusterERFOLG 2022 gewählt?“"
STAFF_DISABLED = (
    f"**Der Mitarbeiterbereich ist ausgeschaltet.** Zum Einschalten die Umgebungsvariable "
    f"`{PASSWORD_ENV}` mit einem Passwort setzen und den Assistenten neu starten."
)

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
    date_from: gr.Textbox  # typed: TT.MM.JJJJ (or JJJJ-MM-TT); gr.DateTime takes ISO only, in English
    date_to: gr.Textbox
    docs: gr.Dropdown
    feedback_box: gr.Column  # hidden until there is an answer to rate
    rating: gr.HTML  # the 👍/👎 buttons for the answer rated (see .rating)
    comment: gr.Textbox
    feedback_note: gr.Markdown
    filter_note: gr.Markdown  # under the date fields: what is wrong with a date
    filter_bar: FilterBar
    history: HistoryUI  # the conversations kept in this browser (see .history)


@dataclass
class FilterBar:
    """Above the chat, while filters are set (also with the filter panel closed)."""

    row: gr.Row
    text: gr.Markdown  # "Filter aktiv: 01.01.2017 – 31.12.2017 · 1 von 5 Dokumenten"
    reset: gr.Button
    without: gr.Button  # "Ohne Filter suchen": after an answer that found nothing with filters


@dataclass
class StaffUI:
    session: gr.State  # the staff session's token ("" when not logged in), see .gate
    cookie: gr.Textbox  # hidden: hands the token to the script that puts it in a cookie
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
    status: gr.Markdown  # the index as staff need to know it (search mode, set-up hints)
    confirm_row: gr.Row  # "Wirklich löschen?" with confirm and cancel
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button


def layout_chat(secret: str) -> ChatUI:
    """The chat tab; ``secret`` encrypts the conversations kept in the browser (see .memory)."""
    conversation, turn = gr.State([]), gr.State(None)
    status = gr.Markdown(elem_id="index-status")
    with gr.Row(equal_height=False, elem_id="chat-zeile"):
        with gr.Column(scale=3, elem_id="chat-spalte"):
            filter_bar = _layout_filter_bar()
            chatbot = gr.Chatbot(
                label="Gespräch",
                height=430,
                elem_id="chat",
                feedback_options=None,
                latex_delimiters=[],
                buttons=["copy"],
                autoscroll=True,
                placeholder="Stellen Sie eine Frage – oder wählen Sie unten ein Beispiel.",
            )
            with gr.Row(elem_id="frage-zeile"):
                question = gr.Textbox(
                    label="Ihre Frage",  # not shown: what screen readers say for the box
                    show_label=False,
                    placeholder=PLACEHOLDER,
                    scale=5,
                    lines=1,
                    max_lines=4,
                    elem_id="frage",
                    submit_btn=False,
                )
                send = gr.Button("Senden", variant="primary", scale=1, elem_id="senden")
                new = gr.Button("Neues Gespräch", scale=1, elem_id="neu")
            feedback_box, rating, comment, feedback_note = _layout_feedback()
            _layout_examples(question)
        with gr.Column(scale=2, elem_id="seiten-spalte"):
            date_from, date_to, docs, filter_note = _layout_filters()
            sources = gr.HTML(NO_SOURCES, elem_id="quellen", js_on_load=SOURCES_JS)
            history = layout_history(secret)  # below the sources: the answer's sources come first
    with gr.Accordion("Dokument", open=True, elem_id="dokument-bereich"):
        document = gr.HTML(NO_DOCUMENT, elem_id="dokument", js_on_load=DOCUMENT_JS)
    return ChatUI(
        conversation,
        turn,
        status,
        chatbot,
        question,
        send,
        new,
        sources,
        document,
        date_from,
        date_to,
        docs,
        feedback_box,
        rating,
        comment,
        feedback_note,
        filter_note,
        filter_bar,
        history,
    )


def _layout_feedback() -> tuple[gr.Column, gr.HTML, gr.Textbox, gr.Markdown]:
    with gr.Column(visible=False, elem_id="feedback") as box:
        rating = gr.HTML("", elem_id="bewertung", js_on_load=RATING_JS)
        comment = gr.Textbox(
            label="War die Antwort hilfreich?",
            lines=1,
            elem_id="kommentar",
            placeholder="Kommentar (optional), z. B. was gefehlt hat",
        )
        feedback_note = gr.Markdown(elem_id="feedback-hinweis")
    return box, rating, comment, feedback_note


def _layout_examples(question: gr.Textbox) -> None:
    with gr.Accordion("Beispielfragen", open=True, elem_id="beispiele"):  # folded on a phone (page.js)
        for label, questions in EXAMPLES.items():
            gr.Examples(examples=[[q] for q in questions], inputs=[question], label=label)


def _layout_filter_bar() -> FilterBar:
    with gr.Row(visible=False, equal_height=True, elem_id="filter-aktiv") as row:
        text = gr.Markdown(elem_id="filter-text")
        reset = gr.Button("Filter zurücksetzen", size="sm", scale=0, min_width=170, elem_id="filter-zuruecksetzen")
        without = gr.Button(
            "Ohne Filter suchen", size="sm", scale=0, min_width=170, visible=False, elem_id="ohne-filter"
        )
    return FilterBar(row, text, reset, without)


def _date_field(label: str, elem_id: str) -> gr.Textbox:
    return gr.Textbox(
        label=label,
        placeholder=DATE_PLACEHOLDER,
        lines=1,
        max_lines=1,
        min_width=140,
        elem_id=elem_id,
        elem_classes=["datum"],
    )


def _layout_filters() -> tuple[gr.Textbox, gr.Textbox, gr.Dropdown, gr.Markdown]:
    with gr.Accordion("Filter", open=False, elem_id="filter"):
        with gr.Row():
            date_from = _date_field("Datum von (TT.MM.JJJJ)", "datum-von")
            date_to = _date_field("Datum bis (TT.MM.JJJJ)", "datum-bis")
        note = gr.Markdown(elem_id="filter-hinweis")
        docs = gr.Dropdown(label="Nur in diesen Dokumenten", multiselect=True, choices=[], elem_id="dokumente")
    return date_from, date_to, docs, note


def layout_staff(enabled: bool) -> StaffUI | None:
    if not enabled:
        gr.Markdown(STAFF_DISABLED, elem_id="mitarbeiter-aus")
        return None
    session = gr.State("")
    cookie = gr.Textbox(visible=False, elem_id="staff-cookie")
    with gr.Column(visible=True) as login_box:
        password = gr.Textbox(label="Passwort", type="password", elem_id="passwort")
        login = gr.Button("Anmelden", variant="primary", elem_id="anmelden")
    login_note = gr.Markdown(elem_id="login-hinweis")
    with gr.Column(visible=False) as panel:
        with gr.Row(equal_height=True):
            gr.Markdown("Angemeldet im Mitarbeiterbereich.")
            logout = gr.Button("Abmelden", size="sm", scale=0, min_width=120)
        status = gr.Markdown(elem_id="staff-status")
        gr.Markdown(
            f"**Dokumente hochladen** ({', '.join(SUPPORTED_SUFFIXES)}); danach wird der Index "
            "aktualisiert und der Chat findet sie sofort."
        )
        files = gr.File(
            label="Dateien",
            file_count="multiple",
            file_types=list(SUPPORTED_SUFFIXES),
            type="filepath",
            elem_id="hochladen-dateien",
            interactive=False,  # takes files only once logged in (and the server checks, see .gate)
        )
        upload = gr.Button("Hochladen und indexieren", variant="primary", elem_id="hochladen")
        message = gr.Markdown(elem_id="staff-meldung")
        table = gr.Dataframe(
            headers=["Dokument", "Titel", "Datum", "Abschnitte"],
            interactive=False,
            wrap=True,
            label="Dokumente im Index",
            elem_id="dokumentliste",
            column_widths=["32%", "43%", "15%", "10%"],
        )
        with gr.Row():
            delete_choice = gr.Dropdown(label="Dokument löschen", choices=[], scale=3, elem_id="loeschen-wahl")
            delete = gr.Button("Löschen …", variant="stop", scale=1, elem_id="loeschen")
        with gr.Row(visible=False, elem_id="loeschen-bestaetigen") as confirm_row:  # the second step
            confirm_text = gr.Markdown(elem_id="loeschen-frage")
            confirm = gr.Button("Ja, löschen", variant="stop", scale=0, min_width=140, elem_id="loeschen-ja")
            cancel = gr.Button("Abbrechen", scale=0, min_width=140, elem_id="loeschen-nein")
        reindex = gr.Button("Index neu einlesen", elem_id="neu-indexieren")
    return StaffUI(
        session,
        cookie,
        login_box,
        password,
        login,
        login_note,
        panel,
        logout,
        files,
        upload,
        table,
        delete_choice,
        delete,
        reindex,
        message,
        status,
        confirm_row,
        confirm_text,
        confirm,
        cancel,
    )
