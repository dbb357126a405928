"""Finding a model (embedder, reader) without waiting on the Hugging Face hub.

A model is looked up in this order: a local folder, the Hugging Face cache, the hub itself.
Before the hub is asked, one HTTP request with a short timeout tells whether it answers at
all, so an offline machine fails over in about a second instead of sitting through the hub
client's retries. Two things are remembered for :data:`FAILURE_TTL` seconds: that an endpoint
did not answer (so a second model does not probe the same unreachable hub again), and the
message of a model that could not be loaded (so opening the assistant repeatedly fails at once).
Local folders are looked at every time.

A fresh process (each `assistant ask`) would probe again and import the hub client only to learn
that nothing is cached: ~0.2 s of an offline start here. So an endpoint that did not answer is
also noted on disk (``~/.cache/assistant/hub-unreachable.json``, ``ASSISTANT_HUB_NOTE`` moves it)
for :data:`NOTE_TTL` seconds, and the cache is looked at as a folder before the hub client is
imported.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from .errors import AssistantError

FAILURE_TTL = 300.0
# Shorter on disk: a user who has just gone online waits at most this long in a new process.
NOTE_TTL = 60.0
DEFAULT_ENDPOINT = "https://huggingface.co"

# endpoint -> when it last failed to answer the probe
_unreachable: dict[str, float] = {}
# (kind, model name, HF_HUB_OFFLINE, HF_ENDPOINT) -> (message, when)
_failures: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_lock = threading.Lock()

T = TypeVar("T")
Advice = Callable[[str, str], str]  # (model name, reason) -> the German message


def forget() -> None:
    """Drop everything remembered (unreachable endpoints, failed models, the note on disk)."""
    with _lock:
        _unreachable.clear()
        _failures.clear()
    try:
        note_path().unlink()
    except OSError:
        pass


def is_local(name: str) -> bool:
    """Whether ``name`` means a folder on disk rather than a hub name."""
    path = Path(name).expanduser()
    return path.is_dir() or path.is_absolute() or name.startswith((".", "~"))


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def resolve_model(name: str, hub_timeout: float, error: type[AssistantError], advice: Advice) -> tuple[str, bool]:
    """Where to load ``name`` from: ``(path_or_name, local_only)``.

    Raises ``error(advice(name, reason))`` when the model is neither on disk nor reachable."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path), True
    if path.is_absolute() or name.startswith((".", "~")):
        raise error(advice(name, f"der Ordner {path} existiert nicht"))
    if _in_cache_folder(name):
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return snapshot_download(name, local_files_only=True), True
        except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
            pass
    if hub_offline():
        raise error(advice(name, "nicht im Cache und HF_HUB_OFFLINE ist gesetzt"))
    url = endpoint()
    if not hub_reachable(url, hub_timeout, name):
        raise error(advice(name, f"nicht im Cache und {urlparse(url).hostname} ist nicht erreichbar"))
    return name, False


def _in_cache_folder(name: str) -> bool:
    """Whether the Hugging Face cache has a folder for the model ``name`` (the hub client's own
    layout, ``models--<org>--<name>``): without one, the client would find nothing there."""
    from huggingface_hub import constants  # ~3 ms; the client itself ~150 ms

    return (Path(constants.HF_HUB_CACHE) / ("models--" + name.replace("/", "--"))).is_dir()


def hub_reachable(url: str, timeout: float, model: str = "") -> bool:
    """:func:`probe`, except that an endpoint which did not answer within the last
    :data:`FAILURE_TTL` seconds (in this process) or :data:`NOTE_TTL` seconds (noted on disk by
    any process) is not asked again."""
    with _lock:
        failed = _unreachable.get(url)
        if failed is not None and time.monotonic() - failed < FAILURE_TTL:
            return False
        _unreachable.pop(url, None)
    if _noted_unreachable(url):
        with _lock:
            _unreachable[url] = time.monotonic()
        return False
    if probe(url, timeout, model):
        _write_note(url, None)
        return True
    with _lock:
        _unreachable[url] = time.monotonic()
    _write_note(url, time.time())
    return False


def note_path() -> Path:
    return Path(os.environ.get("ASSISTANT_HUB_NOTE") or Path.home() / ".cache" / "assistant" / "hub-unreachable.json")


def _read_notes() -> dict[str, float]:
    try:
        data = json.loads(note_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, (int, float))}


def _noted_unreachable(url: str) -> bool:
    when = _read_notes().get(url)
    return when is not None and 0.0 <= time.time() - when < NOTE_TTL


def _write_note(url: str, when: float | None) -> None:
    """Note (``when``: the time of the failed probe) or clear ``url``; best effort: a note that
    cannot be written only costs the next process its probe."""
    notes = _read_notes()
    if when is None and url not in notes:
        return
    if when is None:
        del notes[url]
    else:
        notes[url] = when
    path = note_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(notes), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass


def probe(url: str, timeout: float, model: str = "") -> bool:
    """Whether the hub answers an HTTP request about ``model`` within ``timeout`` seconds.

    An HTTP answer, not only a TCP connection, is required: some networks accept every
    connection and then never answer, which would leave the hub client in its retries."""
    result: list[bool] = []

    def ask() -> None:
        import httpx

        target = f"{url.rstrip('/')}/api/models/{model}" if model else url
        try:
            response = httpx.head(target, timeout=timeout, follow_redirects=True)
            result.append(response.status_code < 500)
        except (httpx.HTTPError, OSError, ValueError):
            result.append(False)

    # Name resolution has no timeout of its own; run the probe in a thread and stop waiting.
    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout + 0.2)
    return bool(result and result[0])


def load_remembered(kind: str, name: str, error: type[AssistantError], load: Callable[[], T]) -> T:
    """``load()``, except that a hub model whose loading raised ``error`` within the last
    :data:`FAILURE_TTL` seconds raises the same message again at once. ``kind`` keeps the
    memories of different loaders (embedder, reader) apart."""
    key = (kind, name, os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("HF_ENDPOINT", ""))
    with _lock:
        remembered = _failures.get(key)
        if remembered is not None and time.monotonic() - remembered[1] < FAILURE_TTL:
            raise error(remembered[0])
        _failures.pop(key, None)
    try:
        return load()
    except error as exc:
        if not is_local(name):
            with _lock:
                _failures[key] = (str(exc), time.monotonic())
        raise


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (models run on the CPU otherwise)."""
    import torch

    return bool(torch.cuda.is_available())
