"""What the server takes before any handler of ours runs: uploads only from logged-in staff,
and the queue only for events that are meant to wait in it.

Uploads. Gradio takes files at ``POST /gradio_api/upload`` from anyone, before any event
handler runs, and keeps them in its cache. The staff login here is the app's own (a password
checked in an event), so Gradio's route knows nothing of it. Therefore: a successful login
opens a staff session, a random token that the page keeps in a cookie (:data:`STAFF_COOKIE`,
set by the login's script, cleared at logout); :class:`UploadGate`, an ASGI middleware in
front of Gradio, refuses an upload without a valid token before reading a byte of it, so
nothing of it reaches the disk. The event handlers check the session as well and delete
uploaded files they refuse (:func:`discard_uploads`); files copied into the corpus are
deleted from the cache at once.

The queue. Gradio's queue takes any event by its number (``POST /gradio_api/queue/join``) or
name (``/gradio_api/call/<name>``), also one the page itself sends past the queue
(``queue=False``: the staff login). :func:`queue_only_queued_events` refuses those, so a flood
of logins cannot fill the queue (256 places) the questions wait in.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse

log = logging.getLogger(__name__)

STAFF_COOKIE = "assistant_staff"
SESSION_S = 8 * 3600  # a staff session ends this long after the login at the latest
MAX_SESSIONS = 1000
# Gradio's routes that write what a client sends to disk: the upload of files, and the screen
# recording (its video goes to a temporary file). Neither is for anyone but staff here.
GATED_PATHS = ("/gradio_api/upload", "/gradio_api/process_recording")
REFUSED = "Hochladen nur nach Anmeldung im Mitarbeiterbereich."

# The script the login runs in the page after the server answered: the session's token (from
# a hidden text box) into the cookie, or, without a token (logout), the cookie away. It clears
# the box again.
COOKIE_JS = f"""
(token) => {{
    const secure = location.protocol === "https:" ? "; Secure" : "";
    const value = token ? token + "; max-age={SESSION_S}" : "; max-age=0";
    document.cookie = "{STAFF_COOKIE}=" + value + "; path=/; SameSite=Strict" + secure;
    return "";
}}
"""


class StaffSessions:
    """The tokens of logged-in staff: opened at login, closed at logout, ended after
    :data:`SESSION_S`. Thread-safe."""

    def __init__(self, lifetime_s: float = SESSION_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._ends: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            for old in [t for t, end in self._ends.items() if end <= now]:
                del self._ends[old]
            while len(self._ends) >= MAX_SESSIONS:  # the oldest login goes first
                del self._ends[min(self._ends, key=self._ends.__getitem__)]
            self._ends[token] = now + self.lifetime_s
        return token

    def valid(self, token: Any) -> bool:
        if not isinstance(token, str) or not token:
            return False
        with self._lock:
            end = self._ends.get(token)
            if end is None:
                return False
            if end <= self._clock():
                del self._ends[token]
                return False
            return True

    def close(self, token: Any) -> None:
        with self._lock:
            if isinstance(token, str):
                self._ends.pop(token, None)


class UploadGate:
    """ASGI middleware: a POST to one of :data:`GATED_PATHS` without a valid staff session in
    the cookie is answered 403 at once; the body is never read."""

    LOG_EVERY_S = 60.0  # refusals are logged once a minute at most (with the count since)

    def __init__(self, app: Any, sessions: StaffSessions) -> None:
        self.app = app
        self.sessions = sessions
        self._logged_at = -self.LOG_EVERY_S
        self._unlogged = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and _gated(scope.get("path", "")):
            connection = HTTPConnection(scope)
            if not self.sessions.valid(connection.cookies.get(STAFF_COOKIE)):
                self._log_refusal(connection.client.host if connection.client else "unbekannt", scope.get("path"))
                await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _log_refusal(self, client: str, path: Any) -> None:
        now = time.monotonic()
        if now - self._logged_at < self.LOG_EVERY_S:
            self._unlogged += 1
            return
        more = f"; {self._unlogged} weitere seit der letzten Meldung" if self._unlogged else ""
        log.warning("Hochladen ohne Anmeldung abgewiesen (%s, %s)%s.", client, path, more)
        self._logged_at, self._unlogged = now, 0


def _gated(path: str) -> bool:
    path = path.rstrip("/")
    return any(path.endswith(gated) for gated in GATED_PATHS)


def discard_uploads(paths: Iterable[str]) -> None:
    """Delete files Gradio took in (its upload folder only, never anything else), and the
    folder Gradio made for each when it is empty then."""
    folder = Path(get_upload_folder()).resolve()
    for path in paths:
        try:
            target = Path(path).resolve()
        except (OSError, RuntimeError):
            continue
        if target == folder or not target.is_relative_to(folder) or not target.is_file():
            continue
        try:
            target.unlink()
            if target.parent != folder:
                os.rmdir(target.parent)  # only when empty
        except OSError:
            pass


NOT_QUEUED = "Dieses Ereignis wird nicht über die Warteschlange angenommen."


def queue_only_queued_events(page: Any) -> None:
    """Make ``page``'s queue (after ``page.queue()``) refuse events declared ``queue=False``
    (HTTP 400), before it counts them against its size. Wraps Gradio's ``Queue.push``, which
    every way into the queue goes through."""
    queue = page._queue
    push = queue.push

    async def push_queued_events_only(body: Any, request: Any, username: Any) -> Any:
        fn = page.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is not None and not fn.queue:
            return False, NOT_QUEUED, "error"
        return await push(body, request, username)

    queue.push = push_queued_events_only
