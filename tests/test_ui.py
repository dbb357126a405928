"""The browser chat (assistant/ui/): handlers in-process, the `/ask` API through
gradio_client against a real server, and two browser runs in Debian's chromium (Playwright).

All offline, lexical-only, over copies of the shipped corpus. Screenshots of the browser runs
are kept in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from conftest import copy_corpus
from gradio.utils import get_upload_folder
from ui_support import (
    BALTIC,
    NIRO,
    PASSWORD,
    QUESTION,
    Server,
    ask_in_browser,
    shot,
    ui_settings,
    wait_for_staff_cookie,
)

from assistant.cli import build_parser, ensure_index
from assistant.config import Settings
from assistant.errors import InputError
from assistant.types import Document
from assistant.ui.app import build_app
from assistant.ui.events import THINKING, respond, send_feedback, staff_delete, staff_login
from assistant.ui.guard import LoginGuard
from assistant.ui.inputs import inside, make_filters, safe_filename
from assistant.ui.layout import STAFF_DISABLED
from assistant.ui.render import md_escape, render_document
from assistant.ui.service import Service

# Gradio's queue statistics use pandas in a way pandas 3 deprecates; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
UPLOADED = """Wasserstoff-Forum Ostwestfalen 2024

Am 14. März 2024 fand in Bielefeld das erste Wasserstoff-Forum statt (https://x.test/a, www.x.test, a@x.test).
Rund 120 Teilnehmende diskutierten über Elektrolyseure für den Mittelstand.
<script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2">
Mehr dazu: [Anmeldung](javascript:window.__pwned=4) und <a href="javascript:window.__pwned=5">hier</a>.
"""
HOSTILE_TITLE = '<img src=x onerror="window.__pwned = 3"> Ein Titel\n\nText über Cluster in Köln.\n'


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Service:
    root = tmp_path_factory.mktemp("service")
    return Service(ui_settings(root), data_dir=root / "data", staff_password="")


# --- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/abs/folder/Bericht.PDF", "Bericht.pdf"),
        ("C:\\Users\\x\\Förderung 2024.docx", "Förderung 2024.docx"),
        (".versteckt.md", "versteckt.md"),
        ("a\x00b<script>.html", "ab_script_.html"),
        ("..", None),
        ("../.txt", None),
        ("programm.exe", None),
        ("ohne-endung", None),
        ("", None),
    ],
)
def test_safe_filename(given, expected):
    assert safe_filename(given) == expected


def test_inside_stays_in_the_folder(tmp_path):
    assert inside(tmp_path, "a.txt") == tmp_path.resolve() / "a.txt"
    assert inside(tmp_path, "../a.txt") is None
    assert inside(tmp_path, "sub/../../a.txt") is None
    assert inside(tmp_path, "/etc/passwd") is None
    (tmp_path / "raus").symlink_to(tmp_path.parent)
    assert inside(tmp_path, "raus/a.txt") is None


def test_document_view_escapes_and_marks():
    text = "Titel\n<script>alert(1)</script> Vorher. Der zitierte <b>Satz</b>. Nachher."
    quote = "Der zitierte <b>Satz</b>."
    start = text.index(quote)
    doc = Document("x.html", text, "Titel <i>kursiv</i>", "h", "x.html", fmt="html")
    index = SimpleNamespace(documents={"x.html": doc})
    entry = {
        "n": 2,
        "doc_id": "x.html",
        "start": start,
        "end": start + len(quote),
        "quote": quote,
        "passage_start": 0,
        "passage_end": len(text),
    }
    page = render_document(index, entry)
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<mark class="zitat" id="zitat-2">Der zitierte &lt;b&gt;Satz&lt;/b&gt;.</mark>' in page
    # A changed document: the quote is looked up again, or the view says it is gone.
    moved = Document("x.html", "Neu davor. " + text, "T", "h", "x.html")
    assert "Der zitierte &lt;b&gt;Satz&lt;/b&gt;.</mark>" in render_document(
        SimpleNamespace(documents={"x.html": moved}), entry
    )
    gone = Document("x.html", "Ganz anderer Text.", "T", "h", "x.html")
    assert "nicht mehr enthalten" in render_document(SimpleNamespace(documents={"x.html": gone}), entry)
    assert "nicht mehr im Index" in render_document(SimpleNamespace(documents={}), entry)


def test_markdown_escape_keeps_text_literal():
    assert md_escape("<img src=x onerror=alert(1)> [1] *fett* $$x$$") == (
        "\\<img src=x onerror=alert(1)\\> \\[1\\] \\*fett\\* \\$\\$x\\$\\$"
    )


def test_urls_in_answers_stay_text():
    """A URL, an address or a scheme from a document is no link in the chat's Markdown (its
    renderer, GFM, links bare https://, www. and name@host by itself): every ":" and "@" and the
    "." after "www" are escaped, and unescaped the text is the document's again."""
    text = (
        "Anmeldung: https://evil.example/a?b=1, HTTP://EVIL.EXAMPLE, www.evil.example/x, WWW.Evil.example, "
        "forum@evil.example, mailto:forum@evil.example, ftp://evil.example, javascript:alert(1), "
        "data:text/html;base64,PHNjcmlwdD4= um 10:30 Uhr"
    )
    escaped = md_escape(text)
    assert re.search(r"(?<!\\)[:@]", escaped) is None
    assert "www." not in escaped.lower()
    assert re.sub(r"\\(.)", r"\1", escaped) == text


def test_filters_from_the_form():
    assert make_filters(None, "", []) is None
    filters = make_filters("2022-01-01", "31.12.2022", ["a.txt"])
    assert (filters.date_from.isoformat(), filters.date_to.isoformat(), filters.doc_ids) == (
        "2022-01-01",
        "2022-12-31",
        frozenset({"a.txt"}),
    )
    with pytest.raises(InputError, match="liegt nach"):
        make_filters("2023-01-01", "2022-01-01", None)
    with pytest.raises(InputError, match="Ungültiges Datum „gestern“"):
        make_filters("gestern", None, None)


def test_bad_input_becomes_a_german_message_in_the_chat(service):
    """The service raises the project's InputError; only the UI turns it into Gradio's message."""
    with pytest.raises(gr.Error) as info:
        list(respond(service, QUESTION, [], "gestern", None, None))
    assert "Ungültiges Datum" in info.value.message and info.value.title == "Hinweis"
    with pytest.raises(gr.Error, match="Bitte eine Frage eingeben"):
        list(respond(service, "   ", [], None, None, None))


# --- handlers in-process ---------------------------------------------------------------------


def _ask(service: Service, question: str, conversation=(), date_from=None, date_to=None, docs=None):
    steps = list(respond(service, question, list(conversation), date_from, date_to, docs))
    return steps, steps[-1][1]


def test_answer_streams_then_cites_and_follow_up_uses_history(service):
    steps, conversation = _ask(service, QUESTION)
    assert steps[0][0][-1] == {"role": "assistant", "content": THINKING}
    chat, _, sources, turn, box, _ = steps[-1]
    answer = conversation[-1]
    assert turn == 1 and box == ""
    assert "NIRO" in answer["content"] and "[1]" in answer["content"]
    assert "\\[1\\]" in chat[-1]["content"]  # shown literally in the chat's Markdown
    assert {c["doc_id"] for c in answer["metadata"]["citations"]} == {NIRO}
    assert 'data-quelle="1"' in sources and '<mark class="satz">' in sources
    # The follow-up has no topic of its own; the history (with the citations) supplies it.
    _, conversation = _ask(service, "Wann war das?", conversation)
    follow_up = conversation[-1]
    assert "20. Oktober 2022" in follow_up["content"]
    assert {c["doc_id"] for c in follow_up["metadata"]["citations"]} == {NIRO}


def test_filters_restrict_the_answer(service):
    question = "Welches Budget hat das COSME-Programm?"
    _, conversation = _ask(service, question, docs=[BALTIC])
    assert {c["doc_id"] for c in conversation[-1]["metadata"]["citations"]} == {BALTIC}
    _, conversation = _ask(service, question, docs=[NIRO])
    assert BALTIC not in {c["doc_id"] for c in conversation[-1]["metadata"]["citations"]}
    # A document is in a date range when one of the dates it mentions is (BALTIC: 2014 to 2020).
    _, conversation = _ask(service, question, date_from="2021-01-01")
    assert BALTIC not in {e["doc_id"] for e in conversation[-1]["sources"]}
    _, conversation = _ask(service, QUESTION, date_to="31.12.2019")
    assert NIRO not in {e["doc_id"] for e in conversation[-1]["sources"]}


def test_feedback_is_stored_as_jsonl(service):
    _, conversation = _ask(service, QUESTION)
    note, comment = send_feedback(service, "down", conversation, 1, "  Datum fehlt  ")
    assert "Danke" in note and comment == ""
    record = service.feedback.read()[-1]
    assert record["vote"] == "down" and record["comment"] == "Datum fehlt"
    assert record["question"] == QUESTION and "NIRO" in record["answer"]
    assert record["sources"][0]["doc_id"] == NIRO and record["time"].endswith("+00:00")
    assert "noch keine Antwort" in send_feedback(service, "up", [], None, "")[0]


def test_upload_delete_and_reindex_swap_the_assistant(tmp_path):
    service = Service(ui_settings(tmp_path), data_dir=tmp_path / "data", staff_password=PASSWORD)
    upload = tmp_path / "upload" / "..Wasserstoff Forum 2024.txt"
    upload.parent.mkdir()
    upload.write_text(UPLOADED, encoding="utf-8")
    too_big = tmp_path / "upload" / "gross.txt"
    too_big.write_bytes(b"x" * (len(UPLOADED.encode()) + 1))
    settings = service.settings
    service.settings = settings.replace(max_file_bytes=len(UPLOADED.encode()))
    saved, problems = service.add_files([str(upload), str(too_big), str(tmp_path / "upload" / "x.exe")])
    service.settings = settings
    assert saved == ["Wasserstoff Forum 2024.txt"]
    assert len(problems) == 2 and "zu groß" in problems[0] and "x.exe" in problems[1]
    with service.using() as before:  # a question already running keeps its generation
        report = service.reindex()
        assert report.added == ["Wasserstoff Forum 2024.txt"] and service.assistant is not before
        answer = service.assistant.ask("Wo fand das Wasserstoff-Forum 2024 statt?")
        assert "Bielefeld" in answer.text and answer.citations[0].doc_id == "Wasserstoff Forum 2024.txt"
        assert before.ask(QUESTION).citations
    assert service.remove_document("../corpus/" + NIRO) is not None
    assert service.remove_document("Wasserstoff Forum 2024.txt") is None
    service.reindex()
    assert "Wasserstoff Forum 2024.txt" not in service.assistant.index.documents


def test_staff_handlers_need_the_login_and_update_the_lists(tmp_path):
    service = Service(ui_settings(tmp_path), data_dir=tmp_path / "data", staff_password=PASSWORD)
    with pytest.raises(gr.Error):
        staff_delete(service, "", NIRO, progress=lambda *a, **k: None)
    with pytest.raises(gr.Error):
        staff_delete(service, "erfunden", NIRO, progress=lambda *a, **k: None)
    assert staff_login(service, "falsch")[:3] == ("", "", "Das Passwort stimmt nicht.")
    session, cookie, note, _ = staff_login(service, PASSWORD)
    assert session == cookie and len(session) >= 40 and note == ""
    message, rows, choice, _docs, status = staff_delete(service, session, NIRO, progress=lambda *a, **k: None)
    assert "Gelöscht" in message and "Index aktualisiert" in message and "4 Dokumente" in status
    assert NIRO not in {row[0] for row in rows} and NIRO not in choice["choices"]
    assert not (service.settings.corpus_dir / NIRO).exists()
    assert all(row[3] > 0 and row[2] for row in rows)  # chunk counts, dates ("–" when none)


class _Clock:
    """Seconds that pass only when the test says so (the brake's waits are minutes long)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_guard_waits_longer_after_each_wrong_password(caplog):
    clock, checks = _Clock(), []
    guard = LoginGuard(free_failures=2, first_wait_s=2, max_wait_s=60, forget_after_s=600, clock=clock)

    def check(ok: bool):
        return lambda: checks.append(ok) or ok

    assert [guard.attempt("1.2.3.4", check(False)).wait_s for _ in range(3)] == [0, 0, 2]
    refused = guard.attempt("1.2.3.4", check(True))  # the right password, during the wait
    assert (refused.accepted, refused.checked, refused.wait_s) == (False, False, 2) and len(checks) == 3
    assert guard.attempt("5.6.7.8", check(True)).accepted  # another client is not held up
    clock.now += 2
    assert guard.attempt("1.2.3.4", check(False)).wait_s == 4  # doubles: 2, 4, 8, ... up to 60
    clock.now += 4
    assert [guard.attempt("1.2.3.4", check(False)).wait_s for _ in range(1)] == [8]
    for _ in range(6):
        clock.now += 60
        last = guard.attempt("1.2.3.4", check(False))
    assert last.wait_s == 60
    clock.now += 60
    assert guard.attempt("1.2.3.4", check(True)).accepted  # a success starts afresh
    assert guard.attempt("1.2.3.4", check(False)).wait_s == 0
    clock.now += 601  # and so does a long pause
    assert [guard.attempt("1.2.3.4", check(False)).wait_s for _ in range(3)] == [0, 0, 2]
    messages = [r.getMessage() for r in caplog.records if r.name == "assistant.ui.guard"]
    assert any("Falsches Mitarbeiter-Passwort von 1.2.3.4 (3. Fehlversuch in Folge)" in m for m in messages)
    assert any("abgewiesen" in m for m in messages)


def test_login_guard_has_a_ceiling_for_all_clients_together(caplog):
    clock = _Clock()
    guard = LoginGuard(max_failures_all=5, window_all_s=100, clock=clock)
    results = [guard.attempt(f"10.0.0.{n}", lambda: False) for n in range(10)]  # new addresses each
    assert [r.checked for r in results] == [True] * 5 + [False] * 5
    assert results[-1].wait_s == 100 and not guard.attempt("10.0.0.99", lambda: True).accepted
    clock.now += 100
    assert guard.attempt("10.0.0.99", lambda: True).accepted  # the oldest failures have aged out
    assert sum("alle Adressen zusammen" in r.getMessage() for r in caplog.records) == 1


def test_login_guard_remembers_a_bounded_number_of_clients():
    clock = _Clock()
    guard = LoginGuard(free_failures=0, first_wait_s=1, max_wait_s=1, max_clients=100, clock=clock)
    for n in range(1000):
        clock.now += 0.001
        guard.attempt(f"10.0.{n // 256}.{n % 256}", lambda: False)
    assert len(guard._clients) == 100
    assert not guard.attempt("10.0.3.231", lambda: True).checked  # the newest are kept


def test_staff_area_off_without_password(service, monkeypatch):
    monkeypatch.delenv("ASSISTANT_STAFF_PASSWORD", raising=False)
    demo = build_app(service.settings, data_dir=service.data_dir, service=Service(service.settings))
    texts = [getattr(block, "value", None) for block in demo.page.blocks.values()]
    assert STAFF_DISABLED in texts
    assert not Service(service.settings).check_password("")


def test_ensure_index_builds_when_missing_or_stale(tmp_path, capsys):
    settings = Settings(
        corpus_dir=copy_corpus(tmp_path / "corpus"), index_dir=tmp_path / "index", model="none", reader="none"
    )
    assert ensure_index(settings).documents == 5
    err = capsys.readouterr().err
    assert "noch kein Index in" in err and "Dokumente lesen" in err and "Index fertig: 5 Dokumente" in err
    assert ensure_index(settings) is None
    (settings.corpus_dir / "neu.txt").write_text("Ein neues Dokument über Cluster in Köln.", encoding="utf-8")
    assert ensure_index(settings).added == ["neu.txt"]
    assert "Korpus geändert: 1 neu" in capsys.readouterr().err
    # The same rule as `assistant eval`: other chunk settings rebuild the index in full.
    report = ensure_index(settings.replace(chunk_size=400, chunk_overlap=40))
    assert report is not None and "Chunk-Einstellungen geändert" in (report.full_rebuild_reason or "")


def test_chat_command_line():
    args = build_parser().parse_args(["chat", "--index", "ix", "--corpus", "co"])
    assert (args.host, args.port, str(args.index_dir), str(args.corpus_dir)) == ("127.0.0.1", 7860, "ix", "co")
    assert args.command == "chat"


# --- the served app --------------------------------------------------------------------------


def test_api_ask_round_trip(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {"/ask"}  # chat, feedback and staff events are not callable as API
    result = client.predict(QUESTION, api_name="/ask")
    assert result == {"question": QUESTION, **server.service.assistant.ask(QUESTION).to_json()}
    assert {"answer", "abstained", "citations", "hits"} <= set(result)
    assert result["abstained"] is False and result["citations"][0]["doc_id"] == NIRO
    assert {"n", "doc_id", "chunk_id", "title", "date", "start", "end", "quote"} <= set(result["citations"][0])


def test_api_serves_clients_at_once(server):
    from gradio_client import Client

    results: list[object] = []

    def one() -> None:
        try:
            results.append(Client(server.url, verbose=False).predict(QUESTION, api_name="/ask"))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 6
    assert all(isinstance(r, dict) and r["citations"][0]["doc_id"] == NIRO for r in results), results


def _login_event(server: Server):
    """The login as the page sends it (the password box's submit and the button share it)."""
    return next(fn for fn in server.demo.page.fns.values() if [b.elem_id for b in fn.inputs] == ["passwort"])


async def _event_over_http(
    client,
    server: Server,
    fn,
    data: list,
    session: str | None = None,
    headers: dict[str, str] | None = None,
    queued: bool | None = None,
) -> list | str:
    """One event over HTTP as the page's own client sends it: straight to
    /gradio_api/run/predict when the event is not queued, else through the queue (join, then
    the session's event stream); ``queued`` overrides the choice, as a script could. Returns
    the outputs, or the HTTP status or error message."""
    session = session or uuid.uuid4().hex
    body = {"data": data, "fn_index": fn._id, "session_hash": session, "event_data": None, "trigger_id": None}
    if not (fn.queue if queued is None else queued):
        response = await client.post(server.url + "gradio_api/run/predict", json=body, headers=headers)
        return response.json()["data"] if response.status_code == 200 else f"HTTP {response.status_code}"
    response = await client.post(server.url + "gradio_api/queue/join", json=body, headers=headers)
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    params = {"session_hash": session}
    async with client.stream("GET", server.url + "gradio_api/queue/data", params=params) as stream:
        async for line in stream.aiter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                output = message["output"]
                return output["data"] if message.get("success") else f"Fehler: {output.get('error')}"
    return "keine Antwort"


async def _login_over_http(
    client, server: Server, password: str, headers: dict[str, str] | None = None, queued: bool | None = None
) -> str:
    """One staff login over HTTP; returns the note the page would show, or the HTTP error."""
    fn = _login_event(server)
    note = next(i for i, block in enumerate(fn.outputs) if isinstance(block, gr.Markdown))
    outputs = await _event_over_http(client, server, fn, [password], headers=headers, queued=queued)
    return outputs[note] if isinstance(outputs, list) else outputs


async def _ask_over_http(client, server: Server) -> str:
    """One question to /ask over HTTP (POST /gradio_api/call/ask, then its event stream)."""
    response = await client.post(server.url + "gradio_api/call/ask", json={"data": [QUESTION]})
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:100]}"
    event = ""
    async with client.stream("GET", server.url + f"gradio_api/call/ask/{response.json()['event_id']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                return "ok" if event == "complete" and NIRO in line else f"{event}: {line[:100]}"
    return "keine Antwort"


def test_login_flood_is_refused_and_questions_still_answered(tmp_path, caplog):
    """300 wrong logins at once from one address: after the first few, each is refused at once
    without a look at the password, the right one too; 12 questions asked meanwhile are all
    answered (the logins are not queued); another address still logs in; the log names the
    address, never a password. 300 logins pushed onto the queue by a script are refused by the
    queue, and the questions still get in."""
    import httpx

    srv = Server(tmp_path)
    # The default first wait (2 s) could pass before the flood ends on a slow machine; a longer
    # one keeps the right password's attempt inside it.
    srv.service.login_guard = LoginGuard(first_wait_s=300)
    caplog.set_level(logging.WARNING, logger="assistant.ui.guard")
    # A connection per request: a kept-alive one that the server closes just as it is reused
    # (uvicorn closes idle ones after 5 s) fails in the client, not in the app.
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=0)

    async def flood(queued: bool | None = None) -> tuple[list[str], list[str], float]:
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            start = time.monotonic()
            logins = [
                asyncio.create_task(_login_over_http(client, srv, f"falsch-{n}", queued=queued)) for n in range(300)
            ]
            await asyncio.sleep(0.1)
            asks = await asyncio.gather(*(_ask_over_http(client, srv) for _ in range(12)))
            notes = await asyncio.gather(*logins)
            return notes, asks, time.monotonic() - start

    async def one_login(password: str, source: str = "0.0.0.0") -> str:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(timeout=60, transport=transport) as client:
            return await _login_over_http(client, srv, password)

    try:
        notes, asks, seconds = asyncio.run(flood())
        assert asks == ["ok"] * 12, [a for a in asks if a != "ok"][:3]
        checked = [n for n in notes if n.startswith("Das Passwort stimmt nicht")]
        refused = [n for n in notes if n.startswith("**Zu viele Fehlversuche.**")]
        assert len(checked) + len(refused) == 300, {n for n in notes if n not in checked + refused}
        assert len(checked) == 3, len(checked)
        assert seconds < 120, seconds  # a sanity bound: about 15 s on a loaded 2-core machine
        print(f"300 wrong logins and 12 questions: {seconds:.1f} s")
        right = asyncio.run(one_login(PASSWORD, "127.0.0.1"))
        assert right.startswith("**Zu viele Fehlversuche.**") and "gesperrt" in right
        assert asyncio.run(one_login(PASSWORD, "127.0.0.2")) == ""  # logged in: another address
        log = [r.getMessage() for r in caplog.records if r.name == "assistant.ui.guard"]
        assert any("Falsches Mitarbeiter-Passwort von 127.0.0.1" in m for m in log), log
        assert sum("abgewiesen" in m for m in log) == 1  # once per wait, not 298 times
        assert not any("falsch-" in m or PASSWORD in m for m in log)

        notes, asks, _ = asyncio.run(flood(queued=True))  # past the page: straight onto the queue
        assert asks == ["ok"] * 12, [a for a in asks if a != "ok"][:3]
        assert set(notes) == {"HTTP 400"}, set(notes)
        assert httpx.post(srv.url + "gradio_api/call/login", json={"data": ["falsch"]}, timeout=60).status_code == 400
    finally:
        srv.close()


def test_login_from_many_addresses_meets_the_ceiling(server, caplog):
    """Behind a proxy on the same host the server takes the client's address from
    X-Forwarded-For (uvicorn believes it from 127.0.0.1), so a guesser on loopback can claim a
    new address for every login. The ceiling for all addresses together still holds."""
    import httpx

    server.service.login_guard = LoginGuard(max_failures_all=10)
    caplog.set_level(logging.WARNING, logger="assistant.ui.guard")

    async def spread() -> list[str]:
        async with httpx.AsyncClient(timeout=120) as client:
            return list(
                await asyncio.gather(
                    *(
                        _login_over_http(client, server, "falsch", {"X-Forwarded-For": f"10.9.{n // 200}.{n % 200}"})
                        for n in range(60)
                    )
                )
            )

    try:
        notes = asyncio.run(spread())
        assert sum(n.startswith("Das Passwort stimmt nicht") for n in notes) == 10
        assert sum(n.startswith("**Zu viele Fehlversuche.**") for n in notes) == 50
        log = [r.getMessage() for r in caplog.records if r.name == "assistant.ui.guard"]
        assert any("von 10.9.0." in m for m in log) and sum("alle Adressen zusammen" in m for m in log) == 1
    finally:
        server.service.login_guard = LoginGuard()


def _upload_over_http(server: Server, name: str, cookie: str | None = None):
    import httpx

    cookies = {"assistant_staff": cookie} if cookie is not None else None
    files = [("files", (name, b"Ein Text, den niemand bestellt hat.\n", "text/plain"))]
    return httpx.post(server.url + "gradio_api/upload", files=files, cookies=cookies, timeout=60)


def test_uploads_need_a_staff_session(server):
    """Gradio's upload route takes files before any handler runs: without a staff session's
    cookie it refuses them unread (nothing lands in the cache), with one it takes them; the
    upload handler refuses a file sent by a session that is not logged in and deletes it; after
    the logout the cookie is worth nothing."""
    import httpx

    from assistant.ui.events import staff_logout
    from assistant.ui.gate import REFUSED

    cache = Path(get_upload_folder())
    name = f"unbestellt-{uuid.uuid4().hex[:8]}.txt"
    for cookie in (None, "erfunden"):
        response = _upload_over_http(server, name, cookie)
        assert (response.status_code, response.text) == (403, REFUSED)
    assert not list(cache.rglob(name))
    video = [("video", ("aufnahme.mp4", b"\x00" * 1000, "video/mp4"))]  # Gradio's screen recording route
    assert httpx.post(server.url + "gradio_api/process_recording", files=video, timeout=60).status_code == 403

    login = _login_event(server)
    cookie_box = next(i for i, block in enumerate(login.outputs) if block.elem_id == "staff-cookie")
    upload = next(fn for fn in server.demo.page.fns.values() if "hochladen-dateien" in [b.elem_id for b in fn.inputs])

    async def login_then_foreign_upload() -> tuple[str, str, list | str]:
        async with httpx.AsyncClient(timeout=60) as client:
            token = (await _event_over_http(client, server, login, [PASSWORD]))[cookie_box]
            response = _upload_over_http(server, name, token)
            assert response.status_code == 200, response.text
            (path,) = response.json()
            assert Path(path).is_file() and Path(path).is_relative_to(cache.resolve())
            data = [None, [{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]]
            return token, path, await _event_over_http(client, server, upload, data)  # another session

    token, path, refused = asyncio.run(login_then_foreign_upload())
    assert refused == "Fehler: Bitte zuerst im Mitarbeiterbereich anmelden.", refused
    assert not Path(path).exists() and not list(cache.rglob(name))
    assert not (server.settings.corpus_dir / name).exists()
    staff_logout(server.service, token)
    assert _upload_over_http(server, name, token).status_code == 403


# --- in a real browser ---------------------------------------------------------------------


@pytest.mark.browser
def test_browser_chat_answer_sources_document_feedback(server, page):
    from playwright.sync_api import expect

    page.goto(server.url)
    expect(page.locator("#index-status")).to_contain_text("5 Dokumente")
    card = ask_in_browser(page, QUESTION)
    answer = page.locator("#chat .message-row").last
    expect(answer).to_contain_text("NIRO")
    expect(answer).to_contain_text("[1]")
    expect(card).to_contain_text("[1]")
    expect(card).to_contain_text("NIRO zum ClusterERFOLG 2022 gewählt")
    expect(card).to_contain_text("20. Oktober 2022")
    expect(card).to_contain_text(NIRO)
    expect(card.locator("mark.satz")).to_contain_text("wurde NIRO")
    shot(page, "chat-1-antwort.png")

    card.get_by_role("button", name="Im Dokument anzeigen").click()
    mark = page.locator("#dokument mark.zitat")
    expect(mark).to_contain_text("wurde NIRO")
    expect(page.locator("#dokument")).to_contain_text("Der goldene Buddy-Bär")  # the whole document
    expect(mark).to_be_in_viewport()
    shot(page, "chat-2-dokument.png")

    page.locator("#kommentar textarea").fill("Gut belegt")
    page.locator("#daumen-hoch").click()
    expect(page.locator("#feedback-hinweis")).to_contain_text("Danke")
    record = json.loads((server.data_dir / "feedback.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert (record["vote"], record["comment"], record["question"]) == ("up", "Gut belegt", QUESTION)

    page.locator("#neu").click()
    expect(page.locator("#quellen")).to_contain_text("Hier erscheinen die Quellen")
    expect(page.locator("#chat .message-row")).to_have_count(0)


@pytest.mark.browser
def test_browser_dark_scheme_keeps_the_marked_short_answer_readable(server, browser):
    """In the dark scheme <strong> turns light; inside the yellow mark the short answer must keep
    the mark's dark text."""
    context = browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(server.url + "?__theme=dark")
        card = ask_in_browser(page, "Wie viele Zuschauer hatte der Pitch des Digitalwerks?")
        short = card.locator("mark.satz strong.kurzantwort")
        from playwright.sync_api import expect

        expect(short).to_contain_text("50")
        colors = short.evaluate(
            "el => [getComputedStyle(el).color, getComputedStyle(el.closest('mark')).color,"
            " getComputedStyle(document.body).color]"
        )
        assert colors[0] == colors[1], colors
        assert colors[2] != colors[1], colors  # the page itself is dark: light body text
        shot(page, "chat-dunkel-handy.png")
    finally:
        context.close()


@pytest.mark.browser
def test_browser_staff_upload_then_chat_finds_it(tmp_path, browser, page):
    from playwright.sync_api import expect

    srv = Server(tmp_path)
    hostile = f"boese-{uuid.uuid4().hex[:8]}.txt"  # a name no other test run uses
    try:
        page.goto(srv.url)
        page.get_by_role("tab", name="Mitarbeiterbereich").click()
        page.locator("#passwort input").fill("falsch")
        page.locator("#anmelden").click()
        expect(page.get_by_text("Das Passwort stimmt nicht.")).to_be_visible()
        assert page.locator("#hochladen-dateien input[type=file]").count() == 0  # no upload before the login
        page.locator("#passwort input").fill(PASSWORD)
        page.locator("#anmelden").click()
        expect(page.locator("#dokumentliste")).to_contain_text(NIRO)
        wait_for_staff_cookie(page, present=True)  # the page's script sets it after the answer
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        assert srv.service.staff_sessions.valid(cookies.get("assistant_staff"))  # what lets uploads in
        page.locator("#hochladen-dateien input[type=file]").set_input_files(
            files=[
                {"name": "../../Wasserstoff Forum 2024.txt", "mimeType": "text/plain", "buffer": UPLOADED.encode()},
                {"name": hostile, "mimeType": "text/plain", "buffer": HOSTILE_TITLE.encode()},
            ]
        )
        expect(page.locator("#hochladen-dateien")).to_contain_text("Wasserstoff")  # upload finished
        page.locator("#hochladen").click()
        expect(page.locator("#staff-meldung")).to_contain_text("Index aktualisiert", timeout=60_000)
        expect(page.locator("#dokumentliste")).to_contain_text("Wasserstoff-Forum Ostwestfalen 2024")
        expect(page.locator("#dokumentliste")).to_contain_text('<img src=x onerror="window.__pwned = 3">')
        assert page.evaluate("window.__pwned") is None  # a hostile title is shown as text
        shot(page, "staff-1-hochgeladen.png")
        assert (srv.settings.corpus_dir / "Wasserstoff Forum 2024.txt").is_file()
        assert not list(tmp_path.glob("Wasserstoff*"))  # nothing written outside the corpus

        card = ask_in_browser(page, "Wo fand das Wasserstoff-Forum 2024 statt?")
        expect(page.locator("#chat .message-row").last).to_contain_text("Bielefeld")
        # The document's URL and address are in the answer as text, not as links.
        expect(page.locator("#chat .message-row").last).to_contain_text("(https://x.test/a, www.x.test, a@x.test)")
        assert page.locator("#chat a").count() == 0, page.locator("#chat a").evaluate_all("l => l.map(a => a.href)")
        expect(card).to_contain_text("Wasserstoff-Forum Ostwestfalen 2024")
        card.get_by_role("button", name="Im Dokument anzeigen").click()
        expect(page.locator("#dokument mark.zitat")).to_contain_text("Bielefeld")
        expect(page.locator("#dokument")).to_contain_text("<script>window.__pwned = 1</script>")
        expect(page.locator("#dokument")).to_contain_text("[Anmeldung](javascript:window.__pwned=4)")
        assert page.locator('#dokument a[href^="javascript:"]').count() == 0  # no live link
        for link in page.locator('a[href^="javascript:"]').all():  # none anywhere on the page
            raise AssertionError(f"live javascript: link {link.get_attribute('href')}")
        assert page.evaluate("window.__pwned") is None  # shown as text, never run
        shot(page, "staff-2-chat-findet-upload.png")

        page.get_by_role("tab", name="Mitarbeiterbereich").click()
        page.get_by_role("button", name="Abmelden").click()
        expect(page.get_by_text("Abgemeldet.")).to_be_visible()
        expect(page.locator("#passwort input")).to_be_visible()
        wait_for_staff_cookie(page, present=False)  # dropped by the script after the message
        assert "assistant_staff" not in {c["name"] for c in page.context.cookies()}
        assert not srv.service.staff_sessions.valid(cookies["assistant_staff"])
        assert not list(Path(get_upload_folder()).rglob(hostile))  # uploads left the cache once copied
    finally:
        srv.close()
