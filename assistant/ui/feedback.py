"""The chat's feedback: 👍/👎 votes with a comment, one JSON object per line in
``<data dir>/feedback.jsonl``, and their export as a test set for ``assistant eval``.

The file is only ever appended to. Each vote names the answer it rates (``answer_id``); a later
vote for the same answer supersedes the earlier one ("latest wins"), and a click that would store
what the answer's latest vote already says (the same vote, no new comment) writes nothing. So
:meth:`FeedbackStore.votes` holds one vote per answer, however often a user clicks. Records of the older format (no
``answer_id``) each count as one vote.

:func:`eval_items` turns the votes into the evaluation's JSONL format (see
``assistant/eval/testset.py``): a 👍 gives the question with the answer as expected answer (the
short answer when there was one) and the cited documents as expected sources; a 👎 gives an item
marked for review (``"review": true``, category ``zu_pruefen``) that ``assistant eval`` skips
and counts.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AssistantError

FEEDBACK_FILE = "feedback.jsonl"
VOTES = ("up", "down")
REVIEW_CATEGORY = "zu_pruefen"
GOOD_CATEGORY = "rueckmeldung"
_MARKER = re.compile(r"\s*\[\d+\]")


class FeedbackError(AssistantError):
    """The feedback cannot be exported (no votes, unwritable target)."""


class FeedbackStore:
    """Votes and comments, one JSON object per line in ``<data dir>/feedback.jsonl``; one vote
    per answer (the latest)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FEEDBACK_FILE
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[Any, Any]] | None = None  # answer id -> (vote, comment)

    def add(self, record: dict[str, Any]) -> None:
        """Append ``record`` as it is."""
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._append(line)

    def vote(self, record: dict[str, Any]) -> bool:
        """Store ``record`` (with ``answer_id``, ``vote`` and ``comment``) unless the latest vote for
        its answer already says the same (the same vote, and no comment or the same one); returns
        whether it was written."""
        key = str(record.get("answer_id") or "")
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            if self._latest is None:
                self._latest = {
                    str(r["answer_id"]): (r.get("vote"), r.get("comment"))
                    for r in self._records()
                    if r.get("answer_id")
                }
            said = (record.get("vote"), record.get("comment"))
            latest = self._latest.get(key)
            if key and latest is not None and latest[0] == said[0] and said[1] in ("", None, latest[1]):
                return False  # the same vote again, without a new comment
            self._append(line)
            if key:
                self._latest[key] = said
        return True

    def read(self) -> list[dict[str, Any]]:
        """Every record in the file, in order; broken lines (a crash mid-write) are left out."""
        with self._lock:
            return self._records()

    def votes(self) -> list[dict[str, Any]]:
        """One record per answer: its latest vote, in the order the answers were last rated."""
        return latest_votes(self.read())

    def broken_lines(self) -> int:
        """How many lines of the file are not a JSON object."""
        with self._lock:
            return sum(1 for _ in self._lines()) - len(self._records())

    def _lines(self) -> Iterable[str]:
        if not self.path.is_file():
            return []
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            return [line for line in handle if line.strip()]

    def _records(self) -> list[dict[str, Any]]:
        records = []
        for line in self._lines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def latest_votes(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest record per ``answer_id`` (records without one each stand alone), ordered by
    when each answer was last rated."""
    latest: dict[str, dict[str, Any]] = {}
    for number, record in enumerate(records):
        key = str(record.get("answer_id") or f"#{number}")
        latest.pop(key, None)  # re-inserted last: dicts keep insertion order
        latest[key] = record
    return list(latest.values())


def feedback_record(message: dict[str, Any], history: list[str], vote: str, comment: str, time: str) -> dict[str, Any]:
    """The stored vote for one answer of the chat (``message``: the conversation's answer)."""
    sources = [e for e in message.get("sources", ()) if isinstance(e, dict)]
    return {
        "time": time,
        "answer_id": message.get("answer_id", ""),
        "vote": vote,
        "comment": (comment or "").strip(),
        "question": message.get("question", ""),
        "history": history,
        "answer": message.get("content", ""),
        "short_answer": short_answer(sources),
        "abstained": bool(message.get("abstained", False)),
        "sources": [
            {k: e.get(k) for k in ("n", "kind", "doc_id", "chunk_id", "title", "date", "start", "end", "quote")}
            for e in sources
        ],
        "filters": message.get("filters"),
    }


def short_answer(sources: list[dict[str, Any]]) -> str | None:
    """The short answer's text, cut from the quote of the citation that contains it."""
    for e in sources:
        a, b, start, quote = e.get("short_start"), e.get("short_end"), e.get("start"), e.get("quote")
        if isinstance(a, int) and isinstance(b, int) and isinstance(start, int) and isinstance(quote, str):
            text = quote[a - start : b - start].strip()
            if text and 0 <= a - start < b - start <= len(quote):
                return text
    return None


def _cited_docs(record: dict[str, Any]) -> list[str]:
    sources = record.get("sources")
    if not isinstance(sources, list):
        return []
    docs = [s.get("doc_id") for s in sources if isinstance(s, dict) and s.get("kind", "citation") == "citation"]
    return list(dict.fromkeys(d for d in docs if isinstance(d, str) and d))


def _expected_answer(record: dict[str, Any]) -> str:
    short = record.get("short_answer")
    if isinstance(short, str) and short.strip():
        return short.strip()
    text = record.get("answer")
    if not isinstance(text, str):
        return ""
    return " ".join(_MARKER.sub("", text).split())


def eval_items(votes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The votes as test items of the evaluation's JSONL format (votes without a question or a
    known vote are left out)."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, record in enumerate(votes, start=1):
        question = record.get("question")
        vote = record.get("vote")
        if not isinstance(question, str) or not question.strip() or vote not in VOTES:
            continue
        answer_id = str(record.get("answer_id") or "")
        item_id = f"rm-{answer_id[:12]}" if answer_id else f"rm-alt-{number}"
        while item_id in seen:
            item_id += "-"
        seen.add(item_id)
        history = record.get("history")
        if not isinstance(history, list):
            history = []
        item: dict[str, Any] = {"id": item_id, "question": question.strip()}
        abstained = bool(record.get("abstained"))
        if vote == "up":
            item["answers"] = [] if abstained else [a for a in [_expected_answer(record)] if a]
            item["sources"] = [] if abstained else _cited_docs(record)
            item["category"] = GOOD_CATEGORY
        else:
            item["answers"], item["sources"] = [], []
            item["category"] = REVIEW_CATEGORY
            item["review"] = True
            item["given_answer"] = record.get("answer", "")
            item["given_sources"] = _cited_docs(record)
        item["history"] = [h for h in history if isinstance(h, str)]
        item["feedback"] = vote
        item["rated"] = record.get("time", "")
        if record.get("comment"):
            item["comment"] = record["comment"]
        if vote == "up" and not abstained and not item["answers"]:
            continue  # nothing to expect
        items.append(item)
    return items


@dataclass(frozen=True)
class ExportReport:
    items: int
    good: int
    review: int
    votes: int
    broken_lines: int


def export_testset(store: FeedbackStore, out: Path | None) -> tuple[str, ExportReport]:
    """The store's votes as test-set JSONL; written atomically to ``out`` when given. Raises
    :class:`FeedbackError` (German) when there is nothing to export or ``out`` cannot be written."""
    votes = store.votes()
    items = eval_items(votes)
    if not items:
        where = store.path if store.path.is_file() else f"{store.path} (Datei fehlt)"
        raise FeedbackError(f"Keine Bewertungen zum Exportieren in {where}.")
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    review = sum(1 for i in items if i.get("review"))
    report = ExportReport(len(items), len(items) - review, review, len(votes), store.broken_lines())
    if out is not None:
        _write_atomically(out, text)
    return text, report


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=".export-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise FeedbackError(f"{path} kann nicht geschrieben werden: {exc.strerror or exc}") from None
