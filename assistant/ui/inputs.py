"""What users send the chat, checked: file names for the corpus, dates and filters, questions.
Each check returns a clean value or raises :class:`~assistant.errors.InputError` with a German
message (the UI shows it)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..ingest.corpus import SUPPORTED_SUFFIXES
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


def parse_date(value: Any) -> date | None:
    """A date from the date fields: ISO ("2022-05-09", with or without time) or German
    ("09.05.2022"); empty means no limit."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value).date()
    text = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    raise InputError(f"Ungültiges Datum „{text}“: bitte JJJJ-MM-TT oder TT.MM.JJJJ angeben.")


def make_filters(date_from: Any, date_to: Any, doc_ids: Sequence[str] | None) -> SearchFilters | None:
    low, high = parse_date(date_from), parse_date(date_to)
    if low and high and low > high:
        raise InputError("Das Datum „von“ liegt nach dem Datum „bis“.")
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
