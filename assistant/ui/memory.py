"""Conversations kept in the browser: what is stored (a ``gr.BrowserState``, i.e. the browser's
local storage, encrypted with a key of this installation), how a stored value is checked before
anything of it is used, and the list of earlier conversations.

Nothing of a conversation is kept on the server: each browser holds its own. What comes back from
a browser is checked field by field (:func:`read_store`); a value of an unknown or older format,
or a conversation that does not pass, is left out with a German notice, never an error. Only
Markdown this module can vouch for reaches the chat: an answer's stored display text is used only
when it holds no raw HTML, else the answer text is escaped anew. The size is bounded: at most
:data:`MAX_CONVERSATIONS` conversations of :data:`MAX_MESSAGES` messages, :data:`MAX_STORED_CHARS`
characters in all (the oldest go first).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, TypeGuard

from .render import md_escape

log = logging.getLogger(__name__)

STORAGE_KEY = "cluster-assistent-gespraeche"
FORMAT = 1
SECRET_FILE = "browser-storage.key"
MAX_CONVERSATIONS = 30
MAX_MESSAGES = 60  # 30 questions and their answers
MAX_STORED_CHARS = 1_500_000  # local storage holds about 5 MB; encryption adds a third
MAX_TEXT_CHARS = 50_000
MAX_SOURCES = 20
MAX_TITLE_CHARS = 80
ANSWER_ID = re.compile(r"[0-9a-f]{32}")
CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")
_RAW_HTML = re.compile(r"(?<!\\)<")
_SOURCE_INTS = ("n", "start", "end", "passage_start", "passage_end")
_SOURCE_OPTIONAL_INTS = ("page", "short_start", "short_end")
_CITATION_FIELDS = ("n", "doc_id", "chunk_id", "title", "date", "start", "end", "quote", "url", "page")

OLD_FORMAT = "Gespeicherte Gespräche in einem unbekannten oder älteren Format wurden nicht übernommen."


class StoredConversation(TypedDict):
    id: str
    started: str  # ISO time of the first question (the server's time zone)
    updated: str
    messages: list[dict[str, Any]]  # the conversation's messages, as the chat keeps them


def empty_store() -> dict[str, Any]:
    return {"v": FORMAT, "conversations": []}


def browser_secret(data_dir: Path) -> str:
    """The key the browsers' stored conversations are encrypted with: kept in the data folder,
    so they can be read again after a restart; a fresh one for this run when it cannot be kept."""
    path = data_dir / SECRET_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
        if re.fullmatch(r"[0-9a-f]{32,}", text):
            return text
    except (OSError, UnicodeDecodeError):
        pass
    secret = secrets.token_hex(16)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(secret + "\n")
    except OSError as exc:
        log.warning("Schlüssel für gespeicherte Gespräche nicht schreibbar (%s): sie gelten nur bis zum Neustart", exc)
    return secret


# --- checking what a browser sends -----------------------------------------------------------


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, limit: int = MAX_TEXT_CHARS) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) <= limit


def _source(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or entry.get("kind") not in ("citation", "hit"):
        return None
    if not all(_int(entry.get(k)) and entry[k] >= 0 for k in _SOURCE_INTS):
        return None
    if not all(entry.get(k) is None or (_int(entry[k]) and entry[k] >= 0) for k in _SOURCE_OPTIONAL_INTS):
        return None
    if not all(_text(entry.get(k), 1000) for k in ("doc_id", "chunk_id", "title")) or not _text(entry.get("quote")):
        return None
    if entry.get("date") is not None and not _text(entry["date"], 100):
        return None
    copies = entry.get("also_published") or []  # the other copies of a reposted document
    if not isinstance(copies, list) or len(copies) > MAX_SOURCES or not all(_text(c, 1000) for c in copies):
        return None
    keys = ("kind", "doc_id", "chunk_id", "title", "date", "quote") + _SOURCE_INTS + _SOURCE_OPTIONAL_INTS
    source = {**{k: entry.get(k) for k in keys}, "also_published": copies}
    source["url"] = entry.get("url") if _text(entry.get("url"), 2048) else None  # a link only when http(s): render.py
    return source


def _filters(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    docs = value.get("doc_ids")
    clean: dict[str, Any] = {
        "doc_ids": [d for d in docs if _text(d, 1000)][:200] if isinstance(docs, list) else None,
    }
    for key in ("date_from", "date_to"):
        clean[key] = value.get(key) if _text(value.get(key), 40) else None
    return clean


def _answer(message: dict[str, Any], question: str) -> dict[str, Any] | None:
    content, display = message.get("content"), message.get("display")
    if not _text(content) or not isinstance(message.get("sources", []), list):
        return None
    if not _text(display, 2 * MAX_TEXT_CHARS) or _RAW_HTML.search(display):
        display = md_escape(content)
    sources = [s for s in (_source(e) for e in message.get("sources", [])[:MAX_SOURCES]) if s is not None]
    answer_id = message.get("answer_id")
    restored: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "display": display,
        "metadata": {"citations": [_citation(s) for s in sources if s["kind"] == "citation"]},
        "question": question,
        "sources": sources,
        "abstained": message.get("abstained") is True,
        "filters": _filters(message.get("filters")),
        "answer_id": answer_id if isinstance(answer_id, str) and ANSWER_ID.fullmatch(answer_id) else uuid.uuid4().hex,
    }
    if message.get("vote") in ("up", "down"):
        restored["vote"] = message["vote"]
    return restored


def _citation(source: dict[str, Any]) -> dict[str, Any]:
    """A source card as the citation a follow-up question reads (``metadata.citations``)."""
    citation = {k: source.get(k) for k in _CITATION_FIELDS}
    if citation["page"] is None:
        del citation["page"]
    return citation


def checked_messages(messages: Any) -> list[dict[str, Any]] | None:
    """The messages of a stored conversation as the chat keeps them, or None when they are not a
    conversation: questions and answers taking turns, a question first, an answer last."""
    if not isinstance(messages, list) or not messages or len(messages) % 2 or len(messages) > MAX_MESSAGES:
        return None
    checked: list[dict[str, Any]] = []
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        if not isinstance(question, dict) or not isinstance(answer, dict):
            return None
        if question.get("role") != "user" or answer.get("role") != "assistant":
            return None
        text = question.get("content")
        if not _text(text, 4000) or not text.strip():
            return None
        restored = _answer(answer, text)
        if restored is None:
            return None
        checked += [{"role": "user", "content": text}, restored]
    return checked


def _time(value: Any) -> bool:
    if not _text(value, 40):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def read_store(value: Any) -> tuple[list[StoredConversation], str]:
    """The conversations of a browser's stored value, checked, newest first; and a German notice
    when something was left out ("" when not)."""
    if value is None or value == [] or value == {}:
        return [], ""
    if not isinstance(value, dict) or value.get("v") != FORMAT or not isinstance(value.get("conversations"), list):
        return [], OLD_FORMAT
    kept: list[StoredConversation] = []
    dropped = 0
    seen: set[str] = set()
    for item in value["conversations"][: 2 * MAX_CONVERSATIONS]:
        messages = checked_messages(item.get("messages")) if isinstance(item, dict) else None
        cid = item.get("id") if isinstance(item, dict) else None
        if (
            messages is None
            or not isinstance(cid, str)
            or not CONVERSATION_ID.fullmatch(cid)
            or cid in seen
            or not (_time(item.get("started")) and _time(item.get("updated")))
        ):
            dropped += 1
            continue
        seen.add(cid)
        kept.append({"id": cid, "started": item["started"], "updated": item["updated"], "messages": messages})
    dropped += max(0, len(value["conversations"]) - 2 * MAX_CONVERSATIONS)
    kept.sort(key=lambda c: c["updated"], reverse=True)
    notice = ""
    if dropped:
        notice = (
            "Ein gespeichertes Gespräch war beschädigt und wurde übergangen."
            if dropped == 1
            else f"{dropped} gespeicherte Gespräche waren beschädigt und wurden übergangen."
        )
    return kept[:MAX_CONVERSATIONS], notice


# --- changing it -----------------------------------------------------------------------------


def _stored(message: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a message: the citations a follow-up reads are rebuilt from the sources."""
    return {k: v for k, v in message.items() if k != "metadata"}


def _size(conversations: Sequence[StoredConversation]) -> int:
    return len(json.dumps({"v": FORMAT, "conversations": list(conversations)}, ensure_ascii=False))


def remember(
    value: Any, conversation_id: str | None, messages: Sequence[dict[str, Any]], now: datetime | None = None
) -> tuple[str | None, dict[str, Any]]:
    """The store with ``messages`` as the conversation ``conversation_id`` (a new one when None),
    now the newest; returns its id and the new value. An empty conversation is not stored."""
    conversations, _ = read_store(value)
    if not messages:
        return conversation_id, {"v": FORMAT, "conversations": conversations}
    when = (now or datetime.now()).astimezone().isoformat(timespec="seconds")
    old = next((c for c in conversations if c["id"] == conversation_id), None)
    cid = old["id"] if old else uuid.uuid4().hex
    kept = [_stored(m) for m in messages][-MAX_MESSAGES:]
    started = old["started"] if old else when
    current: StoredConversation = {"id": cid, "started": started, "updated": when, "messages": kept}
    others = [_unchecked(c) for c in conversations if c["id"] != cid][: MAX_CONVERSATIONS - 1]
    while others and _size([current, *others]) > MAX_STORED_CHARS:
        others.pop()  # the oldest first
    while len(current["messages"]) > 2 and _size([current, *others]) > MAX_STORED_CHARS:
        current["messages"] = current["messages"][2:]  # the conversation's oldest turns
    return cid, {"v": FORMAT, "conversations": [current, *others]}


def forget(value: Any, conversation_id: str | None) -> dict[str, Any]:
    conversations, _ = read_store(value)
    return {"v": FORMAT, "conversations": [_unchecked(c) for c in conversations if c["id"] != conversation_id]}


def _unchecked(conversation: StoredConversation) -> StoredConversation:
    return {**conversation, "messages": [_stored(m) for m in conversation["messages"]]}


def find(value: Any, conversation_id: str | None) -> StoredConversation | None:
    conversations, _ = read_store(value)
    return next((c for c in conversations if c["id"] == conversation_id), None)


def title(conversation: StoredConversation) -> str:
    """The list's title of a conversation: its first question, in one line, shortened."""
    text = " ".join(conversation["messages"][0]["content"].split())
    return text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def when(conversation: StoredConversation) -> str:
    return datetime.fromisoformat(conversation["started"]).strftime("%d.%m.%Y, %H:%M")


def choices(conversations: Sequence[StoredConversation]) -> list[tuple[str, str]]:
    """(label, id) for the list of earlier conversations: "first question · date"."""
    return [(f"{title(c)} · {when(c)}", c["id"]) for c in conversations]
