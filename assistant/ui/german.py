"""Gradio's own texts in German: the translations handed to its frontend (``gr.I18n``) and the
page script (static/page.js) for the few texts Gradio writes without a translation key (the
toasts' "Error" title, "Invalid file type …", aria-labels such as "chatbot conversation").

Gradio picks its dictionary by the browser's language; the chat is German whatever that is,
so the same German texts go to the "de" and the "en" dictionary (English is Gradio's fallback
for every language it has no dictionary for). The keys are flat ("chatbot.copy_message"):
Gradio's frontend looks a flat key up before its own nested dictionaries, so these win."""

from __future__ import annotations

import gradio as gr

# Gradio's translation keys (its frontend's English dictionary names them) -> German.
GRADIO_TEXTS: dict[str, str] = {
    "chatbot.copy_message": "Nachricht kopieren",
    "chatbot.copied_message": "Nachricht kopiert",
    "chatbot.clear": "Gespräch leeren",
    "chatbot.edit": "Bearbeiten",
    "chatbot.retry": "Wiederholen",
    "chatbot.undo": "Rückgängig",
    "chatbot.submit": "Senden",
    "chatbot.cancel": "Abbrechen",
    "chatbot.like": "Gefällt mir",
    "chatbot.dislike": "Gefällt mir nicht",
    "chatbot.complete": "Fertig",
    "common.error": "Fehler",
    "common.complete": "Fertig",
    "common.clear": "Leeren",
    "common.download": "Herunterladen",
    "common.download_all": "Alle herunterladen",
    "common.edit": "Bearbeiten",
    "common.empty": "Leer",
    "common.loading": "Wird geladen",
    "common.or": "oder",
    "common.remove": "Entfernen",
    "common.settings": "Einstellungen",
    "common.submit": "Absenden",
    "common.undo": "Rückgängig",
    "common.language": "Sprache",
    "common.display_theme": "Farbschema",
    "common.progress": "Fortschritt",
    "common.built_with": "erstellt mit",
    "common.built_with_gradio": "Mit Gradio erstellt",
    "file.uploading": "Wird hochgeladen …",
    "upload_text.click_to_upload": "Zum Hochladen klicken",
    "upload_text.drop_file": "Dateien hier ablegen",
    "upload_text.paste_clipboard": "Aus der Zwischenablage einfügen",
    "dropdown.dropdown": "Auswahlliste",
    "dataframe.sort_column": "Spalte sortieren",
    "dataframe.sort_ascending": "Aufsteigend sortieren",
    "dataframe.sort_descending": "Absteigend sortieren",
    "dataframe.clear_sort": "Sortierung aufheben",
    "errors.use_via_api": "Über die API verwenden",
    "blocks.lost_connection": "Die Verbindung ist unterbrochen (Seite verlassen); die Anfrage wird neu eingereiht …",
    "blocks.waiting_for_inputs": "Die Dateien werden noch hochgeladen; bitte gleich noch einmal versuchen.",
}

# The unit of the progress bar in the staff area ("3/7 Schritte", Gradio's default is "steps").
PROGRESS_UNIT = "Schritte"


def gradio_i18n() -> gr.I18n:
    """The German texts for Gradio's frontend, for German and for every other browser language."""
    return gr.I18n(de=dict(GRADIO_TEXTS), en=dict(GRADIO_TEXTS))
