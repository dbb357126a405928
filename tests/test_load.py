"""Load on the served `/ask` API: many gradio_client clients at once, against a real server on a
free loopback port in this process, lexical-only over copies of the shipped corpus.

- ``test_parallel_clients_get_serial_answers`` (default run): 10 clients x 10 questions; every
  answer must equal the serial one.
- ``test_fifty_clients_while_reindexing`` (``-m slow``): 50 clients x 10 questions while staff add
  a document and re-index; every answer equals the old-index or the new-index answer, none fails,
  and after the switch the new document is found.

Latency figures (p50/p95) are printed (see them with ``-s``).
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_corpus

from assistant.config import Settings
from assistant.index.build import build_index
from assistant.pipeline import Assistant
from assistant.ui.app import build_app, launch
from assistant.ui.events import staff_reindex

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT / "evals" / "cluster_qa.jsonl"
PASSWORD = "geheim-last"
NEW_NAME = "2024-03-wasserstoffkolloquium-bielefeld.txt"
NEW_TEXT = """Wasserstoffkolloquium Bielefeld 2024

Am 14. März 2024 fand in Bielefeld das erste Wasserstoffkolloquium des Clusters statt.
Rund 120 Teilnehmende diskutierten im Wasserstoffkolloquium über Elektrolyseure für den Mittelstand.
"""
NEW_QUESTION = "Wo fand das Wasserstoffkolloquium 2024 statt?"
CALL_TIMEOUT_S = 60  # one question, at most
RUN_TIMEOUT_S = 300  # a whole load run, at most
COMPARED = ("question", "answer", "abstained", "citations")

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _questions(count: int) -> list[str]:
    """``count`` questions spread over the evaluation set (every category)."""
    rows = [json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    step = max(1, len(rows) // count)
    return [row["question"] for row in rows[::step]][:count]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(root: Path) -> Settings:
    settings = Settings(
        corpus_dir=copy_corpus(root / "corpus"), index_dir=root / "index", model="none", reader="none", progress=False
    )
    build_index(settings)
    return settings


def _key(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in COMPARED}


def _reference(assistant: Assistant, questions: list[str]) -> dict[str, dict[str, Any]]:
    """What `/ask` returns for each question, computed serially in-process (JSON round trip)."""
    return {q: _key(json.loads(json.dumps({"question": q, **assistant.ask(q).to_json()}))) for q in questions}


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


class Server:
    def __init__(self, root: Path) -> None:
        self.settings = _settings(root)
        self.demo = build_app(self.settings, data_dir=root / "data", staff_password=PASSWORD)
        self.service = self.demo.service
        self.port = _free_port()
        launch(self.demo, "127.0.0.1", self.port, prevent_thread_lock=True, quiet=True)
        self.url = f"http://127.0.0.1:{self.port}/"
        assert self.url.startswith("http://127.0.0.1:")

    def close(self) -> None:
        self.demo.close()


def _load(
    url: str,
    clients: int,
    questions: list[str],
    started: threading.Event | None = None,
    progress: list[int] | None = None,
) -> tuple[list[tuple[str, Any, float]], float]:
    """``clients`` gradio_client clients, each asking all ``questions`` in turn (rotated so that
    different questions run at once). Returns (question, result or exception, seconds) per call
    and the wall time of the whole run."""
    from gradio_client import Client

    lock = threading.Lock()

    def one(number: int) -> list[tuple[str, Any, float]]:
        out: list[tuple[str, Any, float]] = []
        try:
            client = Client(url, verbose=False)
        except Exception as exc:
            return [(q, exc, 0.0) for q in questions]
        order = questions[number % len(questions) :] + questions[: number % len(questions)]
        for question in order:
            begin = time.perf_counter()
            try:
                job = client.submit(question, api_name="/ask")
                result: Any = job.result(timeout=CALL_TIMEOUT_S)
            except Exception as exc:
                result = exc
            out.append((question, result, time.perf_counter() - begin))
            if progress is not None:
                with lock:
                    progress[0] += 1
        return out

    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(one, n) for n in range(clients)]
        if started is not None:
            started.set()
        calls = [call for future in futures for call in future.result(timeout=RUN_TIMEOUT_S)]
    return calls, time.perf_counter() - begin


def _report(name: str, clients: int, questions: int, calls, wall: float, extra: str = "") -> None:
    latencies = [seconds for _, result, seconds in calls if isinstance(result, dict)]
    errors = sum(1 for _, result, _ in calls if not isinstance(result, dict))
    p50 = _percentile(latencies, 50) if latencies else float("nan")
    p95 = _percentile(latencies, 95) if latencies else float("nan")
    print(
        f"\n[{name}] clients={clients} questions/client={questions} calls={len(calls)} errors={errors} "
        f"p50={p50 * 1000:.0f} ms p95={p95 * 1000:.0f} ms mean={statistics.fmean(latencies) * 1000:.0f} ms "
        f"wall={wall:.1f} s throughput={len(calls) / wall:.1f}/s{extra}"
    )


def test_parallel_clients_get_serial_answers(tmp_path):
    clients, questions = 10, _questions(10)
    assert len(questions) == 10
    server = Server(tmp_path)
    try:
        reference = _reference(server.service.assistant, questions)
        assert any(not r["abstained"] for r in reference.values())
        calls, wall = _load(server.url, clients, questions)
    finally:
        server.close()
    _report("parallel", clients, len(questions), calls, wall)
    assert len(calls) == clients * len(questions)
    failures = [(q, r) for q, r, _ in calls if not isinstance(r, dict)]
    assert not failures, failures[:5]
    different = [q for q, r, _ in calls if _key(r) != reference[q]]
    assert not different, different[:5]


@pytest.mark.slow
def test_fifty_clients_while_reindexing(tmp_path):
    clients, questions = 50, _questions(9) + [NEW_QUESTION]
    # The new-index reference: a second corpus with the added document, indexed in its own folder.
    new_settings = _settings(tmp_path / "reference")
    (new_settings.corpus_dir / NEW_NAME).write_text(NEW_TEXT, encoding="utf-8")
    build_index(new_settings)
    new_ref = _reference(Assistant.open(new_settings), questions)
    assert NEW_NAME in {c["doc_id"] for c in new_ref[NEW_QUESTION]["citations"]}

    server = Server(tmp_path / "served")
    try:
        old_ref = _reference(server.service.assistant, questions)
        assert NEW_NAME not in {c["doc_id"] for c in old_ref[NEW_QUESTION]["citations"]}
        assert old_ref[NEW_QUESTION] != new_ref[NEW_QUESTION]

        started, progress = threading.Event(), [0]
        reindex: dict[str, Any] = {}

        def staff() -> None:
            """Once the load is under way: add the document and press "Index neu einlesen"."""
            started.wait(RUN_TIMEOUT_S)
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while progress[0] < clients and time.monotonic() < deadline:  # about one answer per client
                time.sleep(0.01)
            reindex["calls_before"] = progress[0]
            (server.settings.corpus_dir / NEW_NAME).write_text(NEW_TEXT, encoding="utf-8")
            begin = time.perf_counter()
            try:
                session = server.service.staff_sessions.open()  # as after a staff login
                reindex["message"] = staff_reindex(server.service, session, progress=lambda *a, **k: None)[0]
            except Exception as exc:
                reindex["error"] = exc
            reindex["seconds"] = time.perf_counter() - begin
            reindex["calls_after"] = progress[0]

        staff_thread = threading.Thread(target=staff, daemon=True)
        staff_thread.start()
        calls, wall = _load(server.url, clients, questions, started, progress)
        staff_thread.join(RUN_TIMEOUT_S)
        assert not staff_thread.is_alive()

        # After the switch: in-process and through the API, the new document is found.
        after = _reference(server.service.assistant, [NEW_QUESTION])[NEW_QUESTION]
        from gradio_client import Client

        via_api = _key(Client(server.url, verbose=False).predict(NEW_QUESTION, api_name="/ask"))
    finally:
        server.close()

    counts = {"old": 0, "new": 0, "both": 0}
    unexpected = []
    for question, result, _ in calls:
        if not isinstance(result, dict):
            continue
        key = _key(result)
        is_old, is_new = key == old_ref[question], key == new_ref[question]
        if is_old and is_new:
            counts["both"] += 1
        elif is_old:
            counts["old"] += 1
        elif is_new:
            counts["new"] += 1
        else:
            unexpected.append(question)
    same = sum(old_ref[q] == new_ref[q] for q in questions)
    _report(
        "reindex",
        clients,
        len(questions),
        calls,
        wall,
        f"\n  re-index: {reindex.get('seconds', float('nan')):.2f} s, started after "
        f"{reindex.get('calls_before')} answers, done after {reindex.get('calls_after')}; "
        f"answers from old index only={counts['old']} new index only={counts['new']} "
        f"identical in both={counts['both']} (questions with equal old/new answer: {same}/{len(questions)})",
    )

    assert "error" not in reindex, reindex
    assert "Fehler" not in reindex["message"], reindex["message"]
    assert len(calls) == clients * len(questions)
    failures = [(q, r) for q, r, _ in calls if not isinstance(r, dict)]
    assert not failures, failures[:5]
    assert not unexpected, unexpected[:5]
    assert after == new_ref[NEW_QUESTION] and via_api == new_ref[NEW_QUESTION]
    assert NEW_NAME in {c["doc_id"] for c in via_api["citations"]}
    # The switch happened during the load: answers came from both generations.
    assert counts["old"] > 0 and counts["new"] > 0, counts
