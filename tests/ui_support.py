"""What the chat's tests share: the app served on a loopback port over a copy of the shipped
corpus (lexical-only), and the steps a browser test takes. The ``server``, ``browser`` and
``page`` fixtures (conftest.py) use it; screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import socket
from pathlib import Path

from conftest import copy_corpus

from assistant.config import Settings
from assistant.index.build import build_index
from assistant.ui.app import build_app, launch
from assistant.ui.service import Service

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NIRO = "2022-10-niro-clustererfolg.txt"
BALTIC = "2017-05-balticnet-plasmatec-cluster-excellence-training.txt"
QUESTION = "Wer wurde zum ClusterERFOLG 2022 gewählt?"
PASSWORD = "geheim-test"


def ui_settings(root: Path) -> Settings:
    """Lexical-only settings with a built index over a copy of corpus/ under ``root``."""
    settings = Settings(
        corpus_dir=copy_corpus(root / "corpus"), index_dir=root / "index", model="none", reader="none", progress=False
    )
    build_index(settings)
    return settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The app served on a free loopback port, in this process."""

    def __init__(self, root: Path, password: str | None = PASSWORD) -> None:
        self.settings = ui_settings(root)
        self.data_dir = root / "data"
        self.demo = build_app(self.settings, data_dir=self.data_dir, staff_password=password or "")
        self.service: Service = self.demo.service
        self.port = free_port()
        launch(self.demo, "127.0.0.1", self.port, prevent_thread_lock=True, quiet=True)
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.demo.close()


def wait_for_staff_cookie(page, *, present: bool) -> None:
    """Login and logout answer first and then run the script that sets or drops the cookie
    (ui/gate.py COOKIE_JS); wait for that script, up to 10 s, instead of racing it."""
    page.wait_for_function(
        "(present) => document.cookie.split('; ').some(c => c.startsWith('assistant_staff=')) === present",
        arg=present,
        timeout=10_000,
    )


def shot(page, name: str) -> None:
    """A full-page screenshot in tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def ask_in_browser(page, question: str):
    """Types ``question`` in the chat tab, sends it and returns the first source card."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Chat").click()
    page.locator("#frage textarea").fill(question)
    page.locator("#senden").click()
    card = page.locator("#quellen .quelle").first
    expect(card).to_be_visible()
    return card
