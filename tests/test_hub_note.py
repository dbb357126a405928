"""assistant/hub.py's note on disk: a hub that did not answer is not probed again by a fresh
process for NOTE_TTL seconds, and a model that is not in the cache is known to be missing without
importing the hub client (each offline `assistant ask` spared ~0.2 s). The Hugging Face cache is
looked at as a folder first; a model that is there is still found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import hub
from assistant.config import Settings
from assistant.errors import ReaderUnavailableError

pytestmark = pytest.mark.usefixtures("fresh_hub")

ROOT = Path(__file__).resolve().parents[1]
URL = "http://hub.invalid"


def test_a_failed_probe_is_noted_for_other_processes(monkeypatch):
    probes: list[str] = []
    monkeypatch.setattr(hub, "probe", lambda url, *a, **k: probes.append(url) or False)
    assert hub.hub_reachable(URL, 1.0) is False
    assert URL in json.loads(hub.note_path().read_text(encoding="utf-8"))
    hub._unreachable.clear()  # what a new process starts with
    assert hub.hub_reachable(URL, 1.0) is False
    assert probes == [URL]  # the note, not a second probe
    assert hub.hub_reachable("http://other.invalid", 1.0) is False
    assert probes == [URL, "http://other.invalid"]  # each endpoint on its own

    # an old note is not believed; an answer clears it
    notes = json.loads(hub.note_path().read_text(encoding="utf-8"))
    notes[URL] -= hub.NOTE_TTL + 1
    hub.note_path().write_text(json.dumps(notes), encoding="utf-8")
    hub._unreachable.clear()
    monkeypatch.setattr(hub, "probe", lambda url, *a, **k: probes.append(url) or True)
    assert hub.hub_reachable(URL, 1.0) is True
    assert probes[-1] == URL
    assert URL not in json.loads(hub.note_path().read_text(encoding="utf-8"))


def test_a_broken_or_unwritable_note_costs_only_a_probe(monkeypatch, tmp_path):
    probes: list[str] = []
    monkeypatch.setattr(hub, "probe", lambda url, *a, **k: probes.append(url) or False)
    hub.note_path().parent.mkdir(parents=True, exist_ok=True)
    hub.note_path().write_text("{kein json", encoding="utf-8")
    assert hub.hub_reachable(URL, 1.0) is False
    assert probes == [URL]
    assert URL in json.loads(hub.note_path().read_text(encoding="utf-8"))  # written anew
    blocked = tmp_path / "datei"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_HUB_NOTE", str(blocked / "note.json"))  # its folder is a file
    hub._unreachable.clear()
    assert hub.hub_reachable(URL, 1.0) is False  # no error, only no note
    assert probes == [URL, URL]


def test_a_fresh_process_fails_over_without_the_hub_client(tmp_path):
    """With the hub noted as unreachable, a new process knows the reader is missing without
    importing the hub client or the HTTP library (not a timing: which modules were loaded)."""
    note = tmp_path / "note.json"
    note.write_text(json.dumps({hub.DEFAULT_ENDPOINT: time.time()}), encoding="utf-8")
    code = (
        "import sys\n"
        "from assistant import hub\n"
        "from assistant.errors import ReaderUnavailableError\n"
        "try:\n"
        f"    hub.resolve_model({Settings().reader!r}, 1.0, ReaderUnavailableError, lambda n, r: r)\n"
        "except ReaderUnavailableError as exc:\n"
        "    print(exc)\n"
        "print('httpx' in sys.modules, 'huggingface_hub.hf_api' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_ENDPOINT"} | {"ASSISTANT_HUB_NOTE": str(note)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    reason, modules = done.stdout.strip().splitlines()
    assert reason == "nicht im Cache und huggingface.co ist nicht erreichbar"
    assert modules == "False False"


def test_a_model_in_the_cache_is_still_found(tiny_qa_model_dir, monkeypatch):
    """The cache as the hub client lays it out: models--<org>--<name>/snapshots/<revision>."""
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / "models--kleines--lesemodell"
    shutil.copytree(tiny_qa_model_dir, repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc", encoding="utf-8")
    monkeypatch.setattr(hub, "probe", lambda *a, **k: pytest.fail("a cached model needs no probe"))
    try:
        path, local = hub.resolve_model("kleines/lesemodell", 1.0, ReaderUnavailableError, lambda n, r: r)
        assert local and Path(path) == repo / "snapshots" / "0123abc"
        monkeypatch.setattr(hub, "probe", lambda *a, **k: False)
        with pytest.raises(ReaderUnavailableError, match="nicht erreichbar"):  # another model: not cached
            hub.resolve_model("kleines/anderes", 1.0, ReaderUnavailableError, lambda n, r: r)
    finally:
        shutil.rmtree(repo)
