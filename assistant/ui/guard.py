"""The staff login's brake: per client (its address), a few wrong passwords are free; after that
every further wrong one makes the client wait twice as long before the password is checked
again (2 s, 4 s, … up to 15 minutes). An attempt during the wait is refused at once, without
checking the password, so one address gets about 15 tries in the first hour and 4 an hour
after that. Nothing sleeps: a refused attempt holds no worker.

Addresses are cheap for a guesser with many machines, and on loopback the server believes the
X-Forwarded-For header (uvicorn's default for a proxy on the same host), so there is a ceiling
for all clients together as well: after 100 wrong passwords within an hour no password is
checked until the oldest of them is an hour old. There is one staff password, so this is its
lockout; staff may then have to wait too, which is the price of a bounded number of guesses.

Wrong passwords are logged with the client's address (never the password)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FREE_FAILURES = 2  # wrong passwords in a row without a wait; the next one starts the wait
FIRST_WAIT_S = 2.0
MAX_WAIT_S = 900.0
FORGET_AFTER_S = 3600.0  # a client without a wrong password for this long starts afresh
MAX_CLIENTS = 10_000  # clients remembered at most (the oldest are forgotten first)
MAX_FAILURES_ALL = 100  # wrong passwords of all clients together ...
WINDOW_ALL_S = 3600.0  # ... within this long, and none is checked until the oldest is older


@dataclass(frozen=True)
class LoginAttempt:
    """What came of one login: ``accepted``; ``checked`` (False: refused during a wait, the
    password was not looked at); ``wait_s``: seconds until the client may try again (0: now)."""

    accepted: bool
    checked: bool
    wait_s: float = 0.0


@dataclass
class _Client:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0
    refusal_logged: bool = False


class LoginGuard:
    """Counts wrong passwords per client (and of all clients together) and decides when the
    next one may be checked. Thread-safe: the check and the count happen under one lock, so
    parallel attempts cannot slip past the count."""

    def __init__(
        self,
        free_failures: int = FREE_FAILURES,
        first_wait_s: float = FIRST_WAIT_S,
        max_wait_s: float = MAX_WAIT_S,
        forget_after_s: float = FORGET_AFTER_S,
        max_clients: int = MAX_CLIENTS,
        max_failures_all: int = MAX_FAILURES_ALL,
        window_all_s: float = WINDOW_ALL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s
        self.forget_after_s = forget_after_s
        self.max_clients = max_clients
        self.max_failures_all = max_failures_all
        self.window_all_s = window_all_s
        self._clock = clock
        self._clients: dict[str, _Client] = {}
        self._failures_all: deque[float] = deque()  # times of the wrong passwords in the window
        self._ceiling_logged = False
        self._lock = threading.Lock()

    def wait_after(self, failures: int) -> float:
        """Seconds a client waits after its ``failures``-th wrong password in a row."""
        if failures <= self.free_failures:
            return 0.0
        return min(self.first_wait_s * 2.0 ** (failures - self.free_failures - 1), self.max_wait_s)

    def attempt(self, client: str, check: Callable[[], bool]) -> LoginAttempt:
        """One login of ``client``: ``check()`` (the password comparison) runs only when the
        client is not waiting."""
        with self._lock:
            now = self._clock()
            state = self._clients.get(client)
            if state is not None and now - state.last_failure > self.forget_after_s and now >= state.blocked_until:
                del self._clients[client]
                state = None
            if state is not None and now < state.blocked_until:
                if not state.refusal_logged:
                    state.refusal_logged = True
                    log.warning(
                        "Mitarbeiter-Anmeldung von %s abgewiesen: Wartezeit nach %d Fehlversuchen läuft noch %.0f s "
                        "(weitere Versuche in dieser Wartezeit werden nicht einzeln gemeldet).",
                        client,
                        state.failures,
                        state.blocked_until - now,
                    )
                return LoginAttempt(False, False, state.blocked_until - now)
            while self._failures_all and now - self._failures_all[0] >= self.window_all_s:
                self._failures_all.popleft()
            if len(self._failures_all) >= self.max_failures_all:
                wait = self._failures_all[0] + self.window_all_s - now
                if not self._ceiling_logged:
                    self._ceiling_logged = True
                    log.warning(
                        "Mitarbeiter-Anmeldung gesperrt: %d falsche Passwörter in %.0f Minuten (alle Adressen "
                        "zusammen); kein Passwort wird die nächsten %.0f s geprüft (zuletzt versucht von %s).",
                        len(self._failures_all),
                        self.window_all_s / 60,
                        wait,
                        client,
                    )
                return LoginAttempt(False, False, wait)
            self._ceiling_logged = False
            if check():
                self._clients.pop(client, None)
                return LoginAttempt(True, True)
            if state is None:
                state = self._clients[client] = _Client()
            state.failures += 1
            state.last_failure = now
            self._failures_all.append(now)
            wait = self.wait_after(state.failures)
            state.blocked_until = now + wait
            state.refusal_logged = False
            self._prune(now)
            log.warning(
                "Falsches Mitarbeiter-Passwort von %s (%d. Fehlversuch in Folge)%s.",
                client,
                state.failures,
                f"; nächster Versuch erst in {wait:.0f} s" if wait else "",
            )
            return LoginAttempt(False, True, wait)

    def _prune(self, now: float) -> None:
        if len(self._clients) <= self.max_clients:
            return
        for name, state in list(self._clients.items()):
            if now - state.last_failure > self.forget_after_s and now >= state.blocked_until:
                del self._clients[name]
        if len(self._clients) > self.max_clients:
            oldest = sorted(self._clients, key=lambda name: self._clients[name].last_failure)
            for name in oldest[: len(self._clients) - self.max_clients]:
                del self._clients[name]


def wait_text(seconds: float) -> str:
    """ "12 Sekunden", "1 Minute", "15 Minuten": a wait as the refusal names it (rounded up)."""
    if seconds <= 90:
        n = max(1, math.ceil(seconds))
        return f"{n} Sekunde" if n == 1 else f"{n} Sekunden"
    n = math.ceil(seconds / 60)
    return f"{n} Minute" if n == 1 else f"{n} Minuten"
