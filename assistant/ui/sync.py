"""Keeping every open tab current, and the staff's delete in two steps.

Other tabs: each page polls (a ``gr.Timer``, off the queue) a cheap version of the index, the
name of its current generation; only when it changed does the poll send the new document list
and count (and, to a logged-in staff tab, the staff table). A re-index in one tab so reaches
every other tab within a few seconds, without a reload.

Delete: the button only asks ("Wirklich löschen?"); the confirm button deletes (see
:func:`~.events.staff_delete`), cancel folds the question away again."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .events import _require_staff
from .render import document_choices, document_rows, index_status, md_escape, staff_status
from .service import Service

REFRESH_S = 3.0  # how often an open page asks whether the index changed


def index_version(service: Service) -> str:
    """What changes with every re-index: the current generation's folder name (no file is read)."""
    return service.assistant.index.path.name


def refresh_lists(service: Service, session: str, known: str) -> tuple[Any, ...]:
    """(version, chat documents, chat status, staff table, delete choice, staff status): all
    skipped while the index is the one this page knows; the staff parts only for a logged-in
    staff tab."""
    version = index_version(service)
    if version == known:
        return (gr.skip(),) * 6
    with service.using() as assistant:
        index = assistant.index
        choices = document_choices(index)
        chat = (gr.update(choices=choices), index_status(service))
        if not session or not service.staff_sessions.valid(session):
            return (version,) + chat + (gr.skip(),) * 3
        return (
            version,
            *chat,
            document_rows(index),
            gr.update(choices=[c[1] for c in choices]),
            staff_status(service),
        )


def ask_delete(service: Service, session: str, doc_id: str | None) -> tuple[Any, ...]:
    """(confirm row, its question, staff message): the first step of a delete."""
    _require_staff(service, session)
    if not doc_id:
        return gr.update(visible=False), "", "Bitte zuerst ein Dokument auswählen."
    with service.using() as assistant:
        doc = assistant.index.documents.get(doc_id)
    if doc is None:
        return gr.update(visible=False), "", f"{md_escape(doc_id)} ist nicht mehr im Index."
    question = (
        f"**Wirklich löschen?** „{md_escape(doc.title)}“ ({md_escape(doc_id)}) wird aus dem Dokumentordner "
        "entfernt, danach wird der Index neu aufgebaut. Das lässt sich nicht rückgängig machen."
    )
    return gr.update(visible=True), question, ""


def cancel_delete() -> tuple[Any, ...]:
    """(confirm row, its question, staff message): nothing deleted."""
    return gr.update(visible=False), "", "Nicht gelöscht."
