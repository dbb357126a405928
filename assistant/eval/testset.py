"""Test sets for the evaluation: JSONL (one object a line) or CSV (the same columns, lists
separated by ``|``): ``id``, ``question``, ``answers`` (acceptable answer strings; empty = the corpus
cannot answer it and the assistant should abstain), ``sources`` (document ids), optional
``history`` (earlier questions of the conversation) and any other field, kept and used to group
the figures. An item with ``"review": true`` (a 👎 exported from the chat's feedback, see
``assistant feedback export``) still needs a person to write its expected answer: the
evaluation skips it and says so (:func:`without_review`). Bad input is a
:class:`~assistant.errors.TestSetError` naming file and line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TestSetError

REQUIRED = ("id", "question", "answers", "sources")
LIST_FIELDS = ("answers", "sources", "history")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    history: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_testset(path: Path) -> list[Question]:
    """Read a JSONL or CSV test set (by extension: ``.csv``/``.tsv`` are CSV, anything else
    JSONL). Raises :class:`TestSetError` naming the line of the first problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TestSetError(f"Testdatei {path} nicht gefunden") from None
    except OSError as exc:
        raise TestSetError(f"Testdatei {path} nicht lesbar: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TestSetError(f"{path}: kein UTF-8 ({exc})") from None
    suffix = path.suffix.lower()
    records = (
        _csv_records(path, text, "\t" if suffix == ".tsv" else None)
        if suffix in (".csv", ".tsv")
        else _jsonl_records(path, text)
    )
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        q = _question(path, line, record)
        if q.id in first_line:
            raise TestSetError(
                f"{path}, Zeile {line}: id {q.id!r} kommt doppelt vor (zuerst in Zeile {first_line[q.id]})"
            )
        first_line[q.id] = line
        questions.append(q)
    if not questions:
        raise TestSetError(f"{path} enthält keine Fragen")
    return questions


def _jsonl_records(path: Path, text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TestSetError(f"{path}, Zeile {number}: kein gültiges JSON ({exc.msg}, Spalte {exc.colno})") from None
        except RecursionError:
            raise TestSetError(f"{path}, Zeile {number}: JSON zu tief verschachtelt") from None
        except ValueError as exc:  # e.g. an integer with more than 4300 digits
            raise TestSetError(f"{path}, Zeile {number}: kein gültiges JSON ({exc})") from None
        if not isinstance(record, dict):
            raise TestSetError(f"{path}, Zeile {number}: erwartet ein JSON-Objekt, gefunden {type(record).__name__}")
        if "\\u" in line:  # an escaped lone surrogate ("\ud800") would fail writing results.jsonl later
            try:
                json.dumps(record, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise TestSetError(f"{path}, Zeile {number}: ungültiges Unicode (einzelnes Surrogat)") from None
            except RecursionError:
                raise TestSetError(f"{path}, Zeile {number}: JSON zu tief verschachtelt") from None
        yield number, record


def _csv_records(path: Path, text: str, delimiter: str | None) -> Iterable[tuple[int, dict[str, Any]]]:
    header = text.splitlines()[0] if text.strip() else ""
    if delimiter is None:  # comma, or semicolon as German spreadsheets write it
        delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise TestSetError(
                f"{path}, Zeile 1: Spalte(n) {', '.join(missing)} fehlen in der Kopfzeile "
                f"(gefunden: {', '.join(columns) or 'keine'})"
            )
        for row in reader:
            number = reader.line_num
            if None in row:
                raise TestSetError(f"{path}, Zeile {number}: mehr Werte als Spalten in der Kopfzeile")
            if all(v is None or not v.strip() for v in row.values()):
                continue
            absent = [c for c, v in row.items() if v is None]
            if absent:
                raise TestSetError(f"{path}, Zeile {number}: zu wenige Werte (es fehlen {', '.join(absent)})")
            record: dict[str, Any] = {}
            for name, value in row.items():
                if name in LIST_FIELDS:
                    record[name] = [p.strip() for p in value.split("|") if p.strip()]
                else:
                    record[name] = value
            yield number, record
    except csv.Error as exc:
        raise TestSetError(f"{path}, Zeile {reader.line_num}: ungültiges CSV ({exc})") from None


def _question(path: Path, line: int, record: dict[str, Any]) -> Question:
    where = f"{path}, Zeile {line}"
    missing = [f for f in REQUIRED if f not in record]
    if missing:
        raise TestSetError(f"{where}: Pflichtfeld(er) {', '.join(missing)} fehlen")
    qid = record["id"]
    if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
        raise TestSetError(f"{where}: 'id' muss ein nicht leerer Text oder eine Zahl sein")
    question = record["question"]
    if not isinstance(question, str) or not question.strip():
        raise TestSetError(f"{where}: 'question' muss ein nicht leerer Text sein")
    lists: dict[str, tuple[str, ...]] = {}
    for name in LIST_FIELDS:
        value = record.get(name, [])
        if value is None and name == "history":
            value = []
        # numbers are fine as answers ("answers": [80]); anything else is a mistake
        if not isinstance(value, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
        ):
            raise TestSetError(f"{where}: '{name}' muss eine Liste von Texten sein")
        lists[name] = tuple(str(v) for v in value)
    extra = {k: v for k, v in record.items() if k not in REQUIRED and k != "history"}
    return Question(
        str(qid).strip(), question.strip(), lists["answers"], lists["sources"], lists["history"], extra, line
    )


def without_review(questions: list[Question]) -> tuple[list[Question], list[Question]]:
    """(the questions to evaluate, those marked ``"review": true`` that wait for a person)."""
    review = [q for q in questions if q.extra.get("review") is True]
    return [q for q in questions if q.extra.get("review") is not True], review
