"""What users send the chat, checked: file names for the corpus, dates and filters, questions.
Each check returns a clean value or raises :class:`~assistant.errors.InputError` with a German
message (the UI shows it)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..ingest.walk import SUPPORTED_SUFFIXES
from ..types import SearchFilters

MAX_NAME_CHARS = 120
MAX_QUESTION_CHARS = 2000


def safe_filename(name: str) -> str | None:
    """A plain file name for the corpus folder, or None when nothing acceptable is left: no
    folders ("../", "C:\\", absolute paths), no hidden files, no control characters, one of the
    supported formats."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[^\w.\- ()+&,]", "_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or f".{suffix.lower()}" not in SUPPORTED_SUFFIXES:
        return None
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" .")
    if not stem:
        return None
    return f"{stem}.{suffix.lower()}"


def inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` when that stays inside ``folder`` (symlinks resolved), else None."""
    if not relative or Path(relative).is_absolute():
        return None
    root = folder.resolve()
    candidate = folder / relative
    parent = candidate.parent.resolve()
    if parent != root and not parent.is_relative_to(root):
        return None
    return parent / candidate.name


DATE_FORMAT_HINT = "TT.MM.JJJJ"
MAX_ECHOED_CHARS = 40  # of a wrong date, the message repeats at most this much
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def parse_date(value: Any, field: str = "") -> date | None:
    """A date from a date field: German ("31.12.2017", also "1.5.2017") or ISO ("2017-12-31",
    also with a time); empty means no limit. Anything else raises :class:`InputError` with a
    German message naming what was typed (and ``field``, e.g. "„von“", when given)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value).date()
    text = str(value).strip()
    shown = text if len(text) <= MAX_ECHOED_CHARS else text[:MAX_ECHOED_CHARS] + "…"
    problem = f"Ungültiges Datum „{shown}“" + (f" im Feld {field}" if field else "")
    german, iso = _GERMAN_DATE.fullmatch(text), _ISO_DATE.fullmatch(text)
    if german:
        day, month, year = german.groups()
    elif iso:
        year, month, day = iso.groups()
    else:
        raise InputError(f"{problem}: bitte als {DATE_FORMAT_HINT} angeben, z. B. 31.12.2017.")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise InputError(f"{problem}: Diesen Tag gibt es nicht (Format {DATE_FORMAT_HINT}).") from None


def german_date(day: date) -> str:
    """``day`` as German users write it: 31.12.2017."""
    return f"{day:%d.%m.%Y}"


def make_filters(date_from: Any, date_to: Any, doc_ids: Sequence[str] | None) -> SearchFilters | None:
    """The filters of the form (or of an API call); None when nothing restricts the search."""
    low, high = parse_date(date_from, "„Datum von“"), parse_date(date_to, "„Datum bis“")
    if low and high and low > high:
        raise InputError(
            f"Das Datum „von“ ({german_date(low)}) liegt nach dem Datum „bis“ ({german_date(high)}); "
            "bitte die beiden tauschen oder eines ändern."
        )
    filters = SearchFilters(frozenset(doc_ids) if doc_ids else None, low, high)
    return None if filters.is_empty() else filters


def checked_question(question: str | None) -> str:
    """The question without surrounding blanks; :class:`InputError` when empty or too long."""
    question = (question or "").strip()
    if not question:
        raise InputError("Bitte eine Frage eingeben.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"Die Frage ist zu lang (höchstens {MAX_QUESTION_CHARS} Zeichen).")
    return question


def filters_json(filters: SearchFilters | None) -> dict[str, Any] | None:
    """The filters as stored with an answer (and in a feedback record)."""
    if filters is None:
        return None
    return {
        "doc_ids": sorted(filters.doc_ids) if filters.doc_ids else None,
        "date_from": filters.date_from.isoformat() if filters.date_from else None,
        "date_to": filters.date_to.isoformat() if filters.date_to else None,
    }


MAX_HISTORY = 100  # earlier turns an API call may send (the pipeline reads the last few)


def checked_history(history: Any) -> list[tuple[str, Any]]:
    """An API call's earlier turns as (question, answer) pairs, the history the pipeline reads:
    each item a question (str), a ``{"question": …, "answer": …}`` object or a ``[question,
    answer]`` pair; an answer may be its text or the object ``/ask`` returned (its citations
    let a follow-up prefer the documents just cited, as in the chat)."""
    if history is None or history == "":
        return []
    if not isinstance(history, (list, tuple)):
        raise InputError("Der Verlauf (history) muss eine Liste früherer Fragen oder Frage-Antwort-Paare sein.")
    if len(history) > MAX_HISTORY:
        raise InputError(f"Der Verlauf (history) ist zu lang (höchstens {MAX_HISTORY} Einträge).")
    turns: list[tuple[str, Any]] = []
    for number, item in enumerate(history, start=1):
        if isinstance(item, str):
            question, answer = item, None
        elif isinstance(item, dict) and isinstance(item.get("question"), str):
            question, answer = item["question"], item.get("answer")
        elif isinstance(item, (list, tuple)) and 1 <= len(item) <= 2 and isinstance(item[0], str):
            question, answer = item[0], item[1] if len(item) > 1 else None
        else:
            raise InputError(
                f"Eintrag {number} des Verlaufs (history) ist weder eine Frage noch ein Paar aus Frage und "
                'Antwort ({"question": …, "answer": …} oder [Frage, Antwort]).'
            )
        if not isinstance(answer, (str, dict, type(None))):
            raise InputError(f"Die Antwort in Eintrag {number} des Verlaufs (history) ist weder Text noch ein Objekt.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"Die Frage in Eintrag {number} des Verlaufs (history) ist zu lang.")
        turns.append((question.strip(), answer))
    return turns


def checked_documents(documents: Any, known: Collection[str]) -> list[str] | None:
    """The document ids of an API call (a list, or one id as text), each one of ``known``."""
    if documents is None or documents == "" or documents == []:
        return None
    if isinstance(documents, str):
        documents = [documents]
    if not isinstance(documents, (list, tuple)) or not all(isinstance(d, str) for d in documents):
        raise InputError("Die Dokumente (documents) müssen eine Liste von Dokument-IDs sein, z. B. [„bericht.pdf“].")
    unknown = [d for d in documents if d not in known]
    if unknown:
        shown = ", ".join(f"„{d[:MAX_ECHOED_CHARS]}“" for d in unknown[:3])
        raise InputError(
            f"Unbekanntes Dokument: {shown}. Die IDs der Dokumente stehen in den Antworten (citations, hits: doc_id)."
        )
    return list(documents)
