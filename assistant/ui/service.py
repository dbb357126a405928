"""What all chat sessions share: the current :class:`Assistant` (swapped atomically after a
re-index), the feedback file, and the checks on what users send (file names, dates, filters)."""

from __future__ import annotations

import ctypes
import hmac
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..config import Settings
from ..index.build import BuildReport, build_index
from ..ingest.walk import SUPPORTED_SUFFIXES
from ..pipeline import Assistant
from ..types import Progress
from .feedback import FeedbackStore
from .gate import StaffSessions
from .guard import LoginAttempt, LoginGuard
from .inputs import inside, safe_filename

log = logging.getLogger(__name__)


# Answers are cheap (tens of milliseconds of retrieval, thread-safe), so several run at once;
# with a language model most of an answer's time is waiting for the endpoint. Index builds are
# serialised separately (concurrency_id "staff", limit 1).
DEFAULT_CONCURRENCY = 8
DATA_DIR_ENV = "ASSISTANT_DATA_DIR"
PASSWORD_ENV = "ASSISTANT_STAFF_PASSWORD"

# --- state shared by all sessions ------------------------------------------------------------


class _InUse:
    """An assistant and how many requests hold it (:meth:`Service.using`); one that a re-index
    replaced is closed when the last of them lets go."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.holders = 0
        self.replaced = False


class Service:
    """The assistant behind the app. ``assistant`` is replaced as a whole after a re-index; a
    question already running keeps the generation it started with (:meth:`using`), and the
    replaced generation's files and memory maps are given back when the last such question ends."""

    def __init__(self, settings: Settings, data_dir: Path | None = None, staff_password: str | None = None) -> None:
        self.settings = settings
        self.data_dir = resolve_data_dir(data_dir)
        password = staff_password if staff_password is not None else os.environ.get(PASSWORD_ENV, "")
        self.staff_password = password or None
        self.feedback = FeedbackStore(self.data_dir)
        self.login_guard = LoginGuard()
        self.staff_sessions = StaffSessions()
        self._lock = threading.Lock()
        self._corpus_lock = threading.RLock()  # one corpus change or build at a time
        self._current = _InUse(_open(settings))

    @property
    def assistant(self) -> Assistant:
        """The current assistant, for a quick look. Whatever reads the index while a re-index may
        run (an answer, a document view) holds it with :meth:`using`: a replaced assistant nobody
        holds is closed."""
        with self._lock:
            return self._current.assistant

    @contextmanager
    def using(self) -> Iterator[Assistant]:
        """The current assistant, kept open until the block ends, also if a re-index replaces it
        meanwhile (then it is closed at the end of the last block that holds it)."""
        with self._lock:
            held = self._current
            held.holders += 1
        try:
            yield held.assistant
        finally:
            with self._lock:
                held.holders -= 1
                done = held.replaced and held.holders == 0
            if done:
                _close(held.assistant)

    @property
    def staff_enabled(self) -> bool:
        return self.staff_password is not None

    def check_password(self, given: str) -> bool:
        if self.staff_password is None:
            return False
        return hmac.compare_digest((given or "").encode("utf-8"), self.staff_password.encode("utf-8"))

    def login(self, client: str, given: str) -> LoginAttempt:
        """A staff login from ``client`` (its address), through the per-client brake."""
        return self.login_guard.attempt(client, lambda: self.check_password(given))

    def reindex(self, progress: Progress | None = None) -> BuildReport:
        """Bring the index up to date with the corpus, then switch every session over to it."""
        with self._corpus_lock:
            report = build_index(self.settings, progress=progress)
            fresh = _InUse(_open(self.settings))
            with self._lock:
                old, self._current = self._current, fresh
                old.replaced = True
                idle = old.holders == 0
            if idle:
                _close(old.assistant)
        return report

    def add_files(self, paths: Sequence[str]) -> tuple[list[str], list[str]]:
        """Copy uploaded files into the corpus. Returns (saved names, German problems)."""
        saved, problems = [], []
        corpus = self.settings.corpus_dir
        with self._corpus_lock:
            corpus.mkdir(parents=True, exist_ok=True)
            for path in paths:
                original = Path(path).name
                name = safe_filename(original)
                if name is None:
                    problems.append(
                        f"{original}: Dateiname oder Format nicht erlaubt (erlaubt: {', '.join(SUPPORTED_SUFFIXES)})"
                    )
                    continue
                size = os.path.getsize(path)
                if size > self.settings.max_file_bytes:
                    problems.append(
                        f"{original}: zu groß ({size / 1e6:.1f} MB, Grenze {self.settings.max_file_bytes / 1e6:.1f} MB)"
                    )
                    continue
                target = inside(corpus, name)
                if target is None:
                    problems.append(f"{original}: Dateiname nicht erlaubt")
                    continue
                _copy_atomically(Path(path), target)
                saved.append(name)
        return saved, problems

    def remove_document(self, doc_id: str) -> str | None:
        """Delete a document's file from the corpus. Returns a German problem, or None."""
        with self._corpus_lock:
            index = self.assistant.index
            if doc_id not in index.documents:
                return f"{doc_id} ist nicht im Index."
            if len(index.documents) <= 1:
                return "Das letzte Dokument kann nicht gelöscht werden (der Index wäre leer)."
            target = inside(self.settings.corpus_dir, doc_id)
            if target is None or not (target.is_file() or target.is_symlink()):
                return f"{doc_id} wurde im Korpus-Ordner nicht gefunden."
            target.unlink()
        return None


def resolve_data_dir(given: Path | None = None) -> Path:
    """The chat's data folder (feedback, the key of the conversations kept in browsers):
    ``given``, else ``$ASSISTANT_DATA_DIR``, else ``.data``."""
    return Path(given if given is not None else os.environ.get(DATA_DIR_ENV) or ".data")


def _open(settings: Settings) -> Assistant:
    assistant = Assistant.open(settings)
    for warning in assistant.warnings:
        log.warning("%s", warning)
    return assistant


def _close(assistant: Assistant) -> None:
    """Close a replaced assistant's index and hand the memory it and the build freed back to the
    system: glibc keeps freed heap pages, and a chat re-indexed every few minutes grew by some
    60 kB each time (measured), though nothing was in use any more."""
    assistant.index.close()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _copy_atomically(source: Path, target: Path) -> None:
    handle, tmp = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
    os.close(handle)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
