"""Shared fixtures: a tiny offline embedding model and question-answering model, a writable copy
of the corpus, and a Hugging Face cache (and note of an unreachable hub) that is never the user's
own."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

_CACHE_VARS = ("HF_HOME", "HF_HUB_CACHE", "SENTENCE_TRANSFORMERS_HOME")

# Set before any test module imports huggingface_hub: the hub client reads its cache location
# once, at import time, so only this makes sure the user's cache is never looked at or written.
_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="assistant-tests-hf-"))
os.environ["HF_HOME"] = str(_SESSION_CACHE / "home")
os.environ["HF_HUB_CACHE"] = str(_SESSION_CACHE / "hub")
os.environ["SENTENCE_TRANSFORMERS_HOME"] = str(_SESSION_CACHE / "st")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _name in list(os.environ):
    if _name.startswith("ASSISTANT_"):  # a developer's own settings must not leak into tests
        del os.environ[_name]
os.environ["ASSISTANT_HUB_NOTE"] = str(_SESSION_CACHE / "hub-note.json")  # never the user's own


@pytest.fixture(autouse=True)
def _isolated_hf_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test sees an empty model cache of its own and no ``ASSISTANT_*`` settings."""
    cache = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setenv("HF_HOME", str(cache / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(cache / "st"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    # the note of an unreachable hub (assistant/hub.py) is each test's own, like the cache
    monkeypatch.setenv("ASSISTANT_HUB_NOTE", str(cache / "hub-note.json"))
    yield


@pytest.fixture
def fresh_hub():
    """No remembered hub failures before and after the test (the model-loading tests time the
    probe). Elsewhere an unreachable hub is remembered for the session: every Assistant.open
    would otherwise wait for the reader's probe."""
    from assistant import hub

    hub.forget()
    yield
    hub.forget()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny, random) sentence-transformers model folder, built offline once per session."""
    from tiny_model import build_tiny_model

    return Path(build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model"))


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model without its onnx/ cache (which the default backend,
    "auto", fills when ONNX Runtime or OpenVINO is installed), so that the cache starts empty."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model", ignore=shutil.ignore_patterns("onnx")))


@pytest.fixture(scope="session")
def tiny_embedder(tiny_model_dir: Path):
    """The tiny model loaded once, as the assistant loads it."""
    from assistant.index.embedder import load_embedder

    return load_embedder(str(tiny_model_dir), "query: ", "passage: ", batch_size=16, hub_timeout=1.0)


@pytest.fixture(scope="session")
def tiny_qa_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) question-answering model folder, trained offline once per session to find
    the date in "Wann fand ... statt?" questions (a few seconds)."""
    from tiny_qa_model import build_tiny_qa_model

    return Path(build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa-model") / "model"))


@pytest.fixture(scope="session")
def tiny_reader(tiny_qa_model_dir: Path):
    """The tiny QA model loaded once, as the assistant loads it."""
    from assistant.answer.reader import load_reader

    return load_reader(str(tiny_qa_model_dir), hub_timeout=1.0)


def copy_corpus(target: Path) -> Path:
    """Copy the project's corpus to ``target`` with writable files (the originals are read-only)."""
    shutil.copytree(CORPUS, target)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of ``corpus/`` in the test's temporary folder."""
    return copy_corpus(tmp_path / "corpus")


def write_corpus(folder: Path, documents: dict[str, str]) -> Path:
    """``folder`` with one file per ``name -> text``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def lexical_index(corpus: Path, index_dir: Path):
    """Builds a lexical-only index (no embedding model, no reader) and returns its settings."""
    from assistant.config import Settings
    from assistant.index.build import build_index

    settings = Settings(corpus_dir=corpus, index_dir=index_dir, model="none", reader="none", progress=False)
    build_index(settings)
    return settings


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory: pytest.TempPathFactory):
    """Lexical-only settings with an index over a copy of the shipped corpus, built once per module."""
    root = tmp_path_factory.mktemp("shipped")
    return lexical_index(copy_corpus(root / "corpus"), root / "index")


# --- the chat served, and a real browser (tests/ui_support.py) ------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """The chat app on a loopback port over a copy of the shipped corpus, once per module."""
    from ui_support import Server

    srv = Server(tmp_path_factory.mktemp("app"))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright; the test is skipped without /usr/bin/chromium."""
    from ui_support import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(
            "kein /usr/bin/chromium: `apt-get install -y --no-install-recommends chromium` (Debian) installiert es"
        )
    from playwright import sync_api  # a dev dependency: missing means a broken set-up, not a skip

    sync_api.expect.set_options(timeout=20_000)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A German desktop page (1400×1000); a script error on it fails the test; a screenshot of
    its last state goes to tests/artifacts/<test>-ende.png."""
    from ui_support import ARTIFACTS

    context = browser.new_context(locale="de-DE", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-ende.png"), full_page=True)
    context.close()
    assert not errors, errors
