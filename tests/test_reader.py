"""The extractive QA reader: spans from a real (tiny, trained) model, and finding the model
without waiting on the hub, shared with the embedder."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import hub
from assistant.answer.reader import ReaderSpan, load_reader, trim
from assistant.config import Settings
from assistant.errors import EmbedderUnavailableError, ReaderUnavailableError
from assistant.index.embedder import load_embedder

pytestmark = pytest.mark.usefixtures("fresh_hub")

HUB_READER = Settings().reader  # deepset/gelectra-base-germanquad, not in the tests' empty cache
HUB_EMBEDDER = Settings().model
ADVICE = ("--reader /pfad/zum/modell", "ASSISTANT_READER=/pfad/zum/modell", "ASSISTANT_READER=none")
GUARD_SECONDS = 2.0  # a guard against hanging on the hub, not a benchmark
QUESTION = "Wann fand das Jahrestreffen von go-cluster statt?"
DATE_SENTENCE = "Das Jahrestreffen von go-cluster fand am 20. Oktober 2022 in Berlin statt."
NO_DATE = "Die Anmeldung ist kostenlos. Das Förderprogramm unterstützt kleine und mittlere Unternehmen."
WITH_DATE = f"Zur Veranstaltung laden wir alle Mitglieder herzlich ein. {DATE_SENTENCE} Die Anmeldung ist kostenlos."
PUNCTUATION = ".,;:!?…'\"„“”‚‘’«»()[]-–—/"


def assert_advice(message: str) -> None:
    for hint in ADVICE:
        assert hint in message, f"{hint!r} fehlt in: {message}"


def long_context() -> str:
    """About 700 tokens (windows of 384 overlapping by 128), the date at the end."""
    from tiny_qa_model import FILLER

    return " ".join(FILLER * 6) + " " + DATE_SENTENCE


def assert_well_formed(spans: list[ReaderSpan], contexts: list[str], top_k: int) -> None:
    assert len(spans) <= top_k
    assert len(set(spans)) == len(spans)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)  # best first
    for span in spans:
        assert 0 <= span.context < len(contexts)
        context = contexts[span.context]
        assert 0 <= span.start < span.end <= len(context)
        text = context[span.start : span.end]
        assert text == text.strip() and text[0] not in PUNCTUATION and text[-1] not in PUNCTUATION, text
        assert 0.0 < span.score <= 1.0


# --- the model: loading and reading ---------------------------------------------------------


def test_load_from_a_folder(tiny_qa_model_dir):
    reader = load_reader(str(tiny_qa_model_dir))
    assert reader.name == str(tiny_qa_model_dir)
    assert reader.device in ("cpu", "cuda")
    assert reader.max_seq_len == 384


def test_the_trained_tiny_model_finds_the_date(tiny_reader):
    contexts = [NO_DATE, WITH_DATE]
    spans = tiny_reader.read(QUESTION, contexts, top_k=3)
    assert_well_formed(spans, contexts, 3)
    best = spans[0]
    assert (best.context, WITH_DATE[best.start : best.end]) == (1, "20. Oktober 2022")
    assert best.score > 0.5  # the passage without a date holds no answer: its mass is on [CLS]
    # a question and passage it has not seen, the date in the last of several windows
    context = long_context().replace("Jahrestreffen von go-cluster", "Sommerfest")
    best = tiny_reader.read("Wann findet das Sommerfest statt?", [context])[0]
    assert context[best.start : best.end] == "20. Oktober 2022"


def test_spans_of_several_contexts_in_one_call(tiny_reader, monkeypatch):
    contexts = [NO_DATE, "   ", long_context(), WITH_DATE, "Die Hochschule kooperiert mit Unternehmen."]
    calls = []
    model = tiny_reader._model
    monkeypatch.setattr(tiny_reader, "_model", lambda **batch: calls.append(batch["input_ids"].shape) or model(**batch))
    spans = tiny_reader.read(QUESTION, contexts, top_k=2)
    assert len(calls) == 1  # one batch for all passages
    assert calls[0][0] > 4  # 4 passages, the long one in several windows
    assert_well_formed(spans, contexts, 2)
    assert {(s.context, contexts[s.context][s.start : s.end]) for s in spans} == {
        (2, "20. Oktober 2022"),
        (3, "20. Oktober 2022"),
    }
    everything = tiny_reader.read(QUESTION, contexts, top_k=10_000)
    assert_well_formed(everything, contexts, 10_000)
    assert everything[:2] == spans
    assert {s.context for s in everything} == {0, 2, 3, 4}  # the blank context is skipped, its index kept


def test_top_k_is_respected_and_the_best_comes_first(tiny_reader):
    contexts = [NO_DATE, WITH_DATE]
    spans = {k: tiny_reader.read(QUESTION, contexts, top_k=k) for k in (1, 2, 5)}
    assert [len(s) for s in spans.values()] == [1, 2, 5]
    assert spans[1] == spans[2][:1] and spans[2] == spans[5][:2]
    assert spans[5][0].score > spans[5][1].score
    with pytest.raises(ValueError):
        tiny_reader.read(QUESTION, contexts, top_k=0)


def test_nothing_to_read(tiny_reader):
    assert tiny_reader.read(QUESTION, []) == []
    assert tiny_reader.read(QUESTION, ["", "  \n"]) == []
    assert tiny_reader.read("   ", [WITH_DATE]) == []


def test_a_very_long_question_is_cut_not_refused(tiny_reader):
    question = "Wann fand das Jahrestreffen " + "der Hochschule " * 80 + "statt?"  # ~250 tokens
    spans = tiny_reader.read(question, [WITH_DATE, long_context()], top_k=3)
    assert_well_formed(spans, [WITH_DATE, long_context()], 3)
    assert len(spans) == 3


def test_one_context_alone_gives_what_it_gives_among_others(tiny_reader):
    alone = tiny_reader.read(QUESTION, [WITH_DATE], top_k=3)
    among = [s for s in tiny_reader.read(QUESTION, [NO_DATE, WITH_DATE], top_k=40) if s.context == 1][:3]
    assert [(s.start, s.end) for s in alone] == [(s.start, s.end) for s in among]
    assert [s.score for s in alone] == pytest.approx([s.score for s in among], rel=1e-4, abs=1e-6)


def test_reading_from_several_threads(tiny_reader):
    contexts = [NO_DATE, WITH_DATE, long_context()]
    expected = tiny_reader.read(QUESTION, contexts, top_k=5)
    results: list[list[ReaderSpan]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(tiny_reader.read(QUESTION, contexts, top_k=5))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 20
    for spans in results:
        assert [(s.context, s.start, s.end) for s in spans] == [(s.context, s.start, s.end) for s in expected]


@pytest.mark.slow  # builds the model a second time (~3 s)
def test_the_tiny_model_is_built_the_same_every_time(tmp_path, tiny_qa_model_dir):
    from safetensors.numpy import load_file
    from tiny_qa_model import build_tiny_qa_model

    again = build_tiny_qa_model(tmp_path / "again")
    first, second = load_file(tiny_qa_model_dir / "model.safetensors"), load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    for name in first:
        assert (first[name] == second[name]).all(), name
    tokenizer = "tokenizer.json"
    assert (tiny_qa_model_dir / tokenizer).read_text("utf-8") == (again / tokenizer).read_text("utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" am 20. Oktober 2022.", "am 20. Oktober 2022"),
        ("„Wasserstoff“, ", "Wasserstoff"),
        ("(KMU)", "KMU"),
        ("Programm (EXIST).", "Programm (EXIST)"),
        ("50 %", "50 %"),
        ("– 3,5 Millionen €;", "3,5 Millionen €"),
        ("„Zukunft“ der Mobilität", "„Zukunft“ der Mobilität"),
        (" ... ", ""),
    ],
)
def test_trim(text, expected):
    start, end = trim(text, 0, len(text))
    assert text[start:end] == expected


def test_torch_and_transformers_are_imported_only_when_a_reader_is_loaded():
    code = "import sys, assistant.answer.reader; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- finding the model without waiting on the hub -------------------------------------------


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"])
def test_uncached_hub_reader_fails_fast_with_one_message(monkeypatch, endpoint):
    if endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
    started = time.perf_counter()
    with pytest.raises(ReaderUnavailableError) as info:
        load_reader(HUB_READER, hub_timeout=1.0)
    assert time.perf_counter() - started < GUARD_SECONDS
    message = str(info.value)
    assert HUB_READER in message and "nicht erreichbar" in message
    assert_advice(message)


def test_hanging_connection_attempt_is_not_waited_for(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(5)
        raise OSError("zu spät")

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.perf_counter()
    with pytest.raises(ReaderUnavailableError, match="nicht erreichbar") as info:
        load_reader(HUB_READER, hub_timeout=0.5)
    assert time.perf_counter() - started < GUARD_SECONDS
    assert_advice(str(info.value))


def test_failure_is_remembered_and_offline_is_honoured(monkeypatch):
    with pytest.raises(ReaderUnavailableError) as first:
        load_reader(HUB_READER)
    started = time.perf_counter()
    with pytest.raises(ReaderUnavailableError) as second:
        load_reader(HUB_READER)
    assert time.perf_counter() - started < 0.1  # remembered: no second probe
    assert str(second.value) == str(first.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a changed hub setting is not hidden by the memory
    monkeypatch.setattr(hub, "probe", lambda *a, **k: pytest.fail("offline means offline: no probe"))
    with pytest.raises(ReaderUnavailableError, match="HF_HUB_OFFLINE") as offline:
        load_reader(HUB_READER)
    assert_advice(str(offline.value))


@pytest.mark.parametrize("name", ["none", "NONE", "off", ""])
def test_none_turns_the_reader_off(monkeypatch, name):
    monkeypatch.setattr(hub, "probe", lambda *a, **k: pytest.fail("a disabled reader does not probe the hub"))
    assert Settings(reader=name).reader_enabled is False
    assert Settings.load(env={"ASSISTANT_READER": name}).reader_enabled is False
    with pytest.raises(ReaderUnavailableError, match="abgeschaltet"):
        load_reader(name)


def test_missing_folder_and_folder_that_is_not_a_model(tmp_path, tiny_qa_model_dir):
    target = tmp_path / "modelle" / "qa"
    with pytest.raises(ReaderUnavailableError, match="existiert nicht") as info:
        load_reader(str(target))
    assert_advice(str(info.value))
    (tmp_path / "leer").mkdir()
    with pytest.raises(ReaderUnavailableError, match="Laden fehlgeschlagen"):
        load_reader(str(tmp_path / "leer"))
    shutil.copytree(tiny_qa_model_dir, target)  # a folder that appears later is used at once
    assert load_reader(str(target)).name == str(target)


def test_embedder_and_reader_wait_for_the_hub_only_once(monkeypatch):
    probes: list[str] = []
    probe = hub.probe
    monkeypatch.setattr(hub, "probe", lambda url, *a, **k: probes.append(url) or probe(url, *a, **k))
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError, match="nicht erreichbar"):
        load_embedder(HUB_EMBEDDER, "query: ", "passage: ", hub_timeout=1.0)
    embedder_done = time.perf_counter()
    with pytest.raises(ReaderUnavailableError, match="nicht erreichbar") as info:
        load_reader(HUB_READER, hub_timeout=1.0)
    assert time.perf_counter() - embedder_done < 0.5  # the unreachable hub is remembered per endpoint
    assert time.perf_counter() - started < GUARD_SECONDS
    assert probes == ["https://huggingface.co"]
    assert_advice(str(info.value))
    # another endpoint is another hub: it is probed
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ReaderUnavailableError):
        load_reader(HUB_READER, hub_timeout=1.0)
    assert probes == ["https://huggingface.co", "http://127.0.0.1:9"]


def test_remembered_endpoint_expires(monkeypatch):
    url = "http://hub.invalid"
    monkeypatch.setattr(hub, "NOTE_TTL", 0.0)  # this process's memory only (the note: test_hub_note.py)
    monkeypatch.setattr(hub, "probe", lambda *a, **k: False)
    assert hub.hub_reachable(url, 1.0) is False
    monkeypatch.setattr(hub, "probe", lambda *a, **k: True)
    assert hub.hub_reachable(url, 1.0) is False  # still remembered
    hub._unreachable[url] -= hub.FAILURE_TTL + 1
    assert hub.hub_reachable(url, 1.0) is True  # asked again after the TTL
    assert hub.hub_reachable("http://other.invalid", 1.0) is True  # each endpoint on its own


def test_reader_errors_are_german_assistant_errors():
    from assistant.errors import AssistantError

    assert issubclass(ReaderUnavailableError, AssistantError)
    assert Path(hub.__file__).parent.name == "assistant"  # the shared core, beside config.py
