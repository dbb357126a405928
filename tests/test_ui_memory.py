"""Conversations kept in the browser and one honest vote per answer (assistant/ui/memory.py,
history.py, rating.py, feedback.py) and `assistant feedback export`: the stored format checked
in-process, the export read by the evaluation's own parser and run by `assistant eval`, and the
whole thing in Debian's chromium (reload, a second browser, delete, votes). Screenshots go to
tests/artifacts/memory-*.png."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ui_support import ARTIFACTS, NIRO, QUESTION, ask_in_browser, shot, ui_settings

from assistant.cli import main
from assistant.eval.testset import load_testset, without_review
from assistant.ui.events import respond, send_feedback
from assistant.ui.feedback import FeedbackStore, eval_items, latest_votes
from assistant.ui.memory import (
    MAX_STORED_CHARS,
    OLD_FORMAT,
    browser_secret,
    choices,
    forget,
    read_store,
    remember,
)
from assistant.ui.rating import rating_html
from assistant.ui.render import md_escape
from assistant.ui.service import Service

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
FOLLOW_UP = "Und wann war das?"
COSME = "Welches Budget hat das COSME-Programm?"


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Service:
    root = tmp_path_factory.mktemp("memory-service")
    return Service(ui_settings(root), data_dir=root / "data", staff_password="")


def _ask(service: Service, question: str, conversation=()) -> list:
    return list(respond(service, question, list(conversation), None, None, None))[-1][1]


def _lines(store: FeedbackStore) -> list[dict]:
    return [json.loads(line) for line in store.path.read_text(encoding="utf-8").splitlines()]


# --- one vote per answer ---------------------------------------------------------------------


def test_a_second_click_changes_the_vote_and_never_duplicates_it(tmp_path):
    service = Service(ui_settings(tmp_path), data_dir=tmp_path / "data", staff_password="")
    conversation = _ask(service, QUESTION)
    conversation = _ask(service, FOLLOW_UP, conversation)
    assert conversation[1]["answer_id"] != conversation[3]["answer_id"]

    assert "Danke" in send_feedback(service, "up", conversation, 3, "")[0]
    note, _ = send_feedback(service, "up", conversation, 3, "")
    assert note == "Ihre Bewertung für Antwort 2 ist schon gespeichert."
    assert len(_lines(service.feedback)) == 1  # 👍 twice: one record

    rated = [*conversation[:3], {**conversation[3], "vote": "up"}]
    note, _ = send_feedback(service, "down", rated, 3, "Datum fehlt")
    assert note == "Bewertung für Antwort 2 geändert: 👎 nicht hilfreich."
    send_feedback(service, "down", conversation, 1, "")
    votes = service.feedback.votes()
    assert [(v["answer_id"], v["vote"]) for v in votes] == [
        (conversation[3]["answer_id"], "down"),
        (conversation[1]["answer_id"], "down"),
    ]
    latest = votes[0]
    assert latest["question"] == FOLLOW_UP and latest["history"] == [QUESTION]
    assert latest["comment"] == "Datum fehlt" and latest["sources"][0]["doc_id"] == NIRO

    # The store is a new one after a restart: the latest vote is read back from the file.
    again = FeedbackStore(service.data_dir)
    assert again.vote({**latest, "time": "später"}) is False
    assert again.vote({**latest, "vote": "up"}) is True
    assert [v["vote"] for v in again.votes()] == ["down", "up"]


def test_broken_and_old_feedback_lines_are_read_sensibly(tmp_path):
    store = FeedbackStore(tmp_path)
    store.path.write_text(
        '{"vote": "up", "question": "Alt 1", "answer": "A"}\n{"vote": "up", "quest\n[1, 2]\n'
        '{"vote": "down", "question": "Alt 2", "answer": "B"}\n',
        encoding="utf-8",
    )
    assert [r["question"] for r in store.votes()] == ["Alt 1", "Alt 2"]  # no answer id: each its own vote
    assert store.broken_lines() == 2
    assert latest_votes([{"answer_id": "a", "vote": "up"}, {"answer_id": "a", "vote": "down"}]) == [
        {"answer_id": "a", "vote": "down"}
    ]


def test_the_buttons_name_the_answer_and_show_the_vote(service):
    conversation = _ask(service, QUESTION)
    conversation = _ask(service, '<b onmouseover="x">Und</b> wann war das?', conversation)
    assert rating_html([], None) == "" and rating_html(conversation, 0) == ""
    first = rating_html([*conversation[:1], {**conversation[1], "vote": "up"}, *conversation[2:]], 1)
    assert "Bewertung für Antwort 1 von 2: „Wer wurde zum ClusterERFOLG 2022 gewählt?“" in first
    assert 'id="daumen-hoch" class="bewertung-knopf gewaehlt" data-vote="up" aria-pressed="true"' in first
    assert 'id="daumen-runter" class="bewertung-knopf" data-vote="down" aria-pressed="false"' in first
    second = rating_html(conversation, 3)
    assert "Antwort 2 von 2" in second and "noch nicht bewertet" in second
    assert "&lt;b onmouseover=&quot;x&quot;&gt;" in second and "<b " not in second


# --- what the browser keeps ------------------------------------------------------------------


def test_a_conversation_is_stored_and_read_back_as_the_chat_keeps_it(service):
    conversation = _ask(service, QUESTION)
    conversation = _ask(service, FOLLOW_UP, conversation)
    cid, value = remember(None, None, conversation)
    stored = json.dumps(value, ensure_ascii=False)
    assert "metadata" not in stored  # the citations are rebuilt from the sources
    conversations, notice = read_store(json.loads(stored))
    assert notice == "" and [c["id"] for c in conversations] == [cid]
    restored = conversations[0]["messages"]
    assert restored == [dict(m) for m in conversation]  # metadata, display, sources, answer ids: all back
    label, value_id = choices(conversations)[0]
    assert value_id == cid and re.fullmatch(re.escape(QUESTION) + r" · \d\d\.\d\d\.20\d\d, \d\d:\d\d", label)

    # Saved again after the next answer: the same entry, not a second one.
    again, value = remember(value, cid, [*conversation, *_ask(service, COSME, conversation)[-2:]])
    assert again == cid and len(value["conversations"]) == 1 and len(value["conversations"][0]["messages"]) == 6
    assert forget(value, cid)["conversations"] == []


@pytest.mark.parametrize(
    "value",
    ["kaputt", 17, [{"role": "user", "content": "Gradios eigenes Format"}], {"v": 0, "conversations": []}],
)
def test_an_old_or_foreign_stored_value_is_ignored_with_a_german_notice(value):
    assert read_store(value) == ([], OLD_FORMAT)
    _, fresh = remember(value, None, [])
    assert fresh == {"v": 1, "conversations": []}


def test_a_damaged_conversation_is_left_out_and_raw_html_is_never_shown(service):
    conversation = _ask(service, QUESTION)
    _, value = remember(None, None, conversation)
    good = value["conversations"][0]
    hostile = json.loads(json.dumps(good))
    hostile["id"] = "f" * 32
    hostile["messages"][1]["display"] = '<img src=x onerror="window.__pwned=1"> NIRO'
    for entry in hostile["messages"][1]["sources"]:
        entry["start"] = True  # a bool is no offset: the card is dropped
    broken = [
        {**good, "id": "../../x"},
        {**good, "id": "e" * 32, "messages": good["messages"][:1]},  # a question without its answer
        {**good, "id": "d" * 32, "started": "gestern"},
        {**good, "id": "c" * 32, "messages": [good["messages"][1], good["messages"][0]]},
        "kein Gespräch",
    ]
    conversations, notice = read_store({"v": 1, "conversations": [good, hostile, *broken]})
    assert notice == "5 gespeicherte Gespräche waren beschädigt und wurden übergangen."
    assert {c["id"] for c in conversations} == {good["id"], "f" * 32}
    shown = next(c for c in conversations if c["id"] == "f" * 32)["messages"][1]
    assert shown["display"] == md_escape(shown["content"]) and "<img" not in shown["display"]
    assert shown["sources"] == [] and shown["metadata"] == {"citations": []}
    assert read_store({"v": 1, "conversations": [broken[0]]})[1] == (
        "Ein gespeichertes Gespräch war beschädigt und wurde übergangen."
    )


def test_what_is_stored_stays_small(service):
    conversation = _ask(service, QUESTION)
    big = [{**m, "content": m["content"] + " x" * 20_000} if m["role"] == "assistant" else m for m in conversation]
    value = None
    ids = []
    start = datetime(2025, 1, 1, 9, 0)
    for day in range(60):
        cid, value = remember(value, None, big, now=start + timedelta(days=day))
        ids.append(cid)
    assert len(json.dumps(value, ensure_ascii=False)) <= MAX_STORED_CHARS
    kept = [c["id"] for c in value["conversations"]]
    assert kept[0] == ids[-1] and kept == ids[::-1][: len(kept)] and 10 < len(kept) <= 30


def test_the_key_of_the_browser_storage_survives_a_restart(tmp_path):
    secret = browser_secret(tmp_path / "data")
    assert len(secret) == 32 and browser_secret(tmp_path / "data") == secret
    assert (tmp_path / "data" / "browser-storage.key").stat().st_mode & 0o077 == 0
    assert browser_secret(tmp_path / "other") != secret


# --- assistant feedback export ---------------------------------------------------------------


def test_feedback_export_is_a_test_set_the_evaluation_reads_and_runs(tmp_path, capsys):
    settings = ui_settings(tmp_path)
    service = Service(settings, data_dir=tmp_path / "data", staff_password="")
    conversation = _ask(service, QUESTION)
    conversation = _ask(service, FOLLOW_UP, conversation)
    send_feedback(service, "down", conversation, 1, "")
    send_feedback(service, "up", [*conversation[:1], {**conversation[1], "vote": "down"}], 1, "passt doch")
    send_feedback(service, "down", conversation, 3, "Datum fehlt")
    out = tmp_path / "rueckmeldungen.jsonl"

    assert main(["feedback", "export", "--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert f"geschrieben: {out}" in printed.out
    assert "2 Testfrage(n) aus 2 Bewertung(en): 1 mit erwarteter Antwort (👍), 1 zur Prüfung" in printed.err
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    good = next(i for i in items if i["feedback"] == "up")
    assert good["question"] == QUESTION and good["sources"] == [NIRO] and good["category"] == "rueckmeldung"
    # the expected answer is the short answer shown in bold on the answer's first line
    assert good["answers"] == [conversation[1]["content"].split("\n")[0]] and good["comment"] == "passt doch"
    review = next(i for i in items if i["feedback"] == "down")
    assert review["review"] is True and review["category"] == "zu_pruefen" and review["answers"] == []
    assert review["history"] == [QUESTION] and review["given_sources"] == [NIRO]

    questions, waiting = without_review(load_testset(out))  # the evaluation's own parser
    assert [q.question for q in questions] == [QUESTION] and questions[0].answerable
    assert [q.history for q in waiting] == [(QUESTION,)] and waiting[0].extra["category"] == "zu_pruefen"

    eval_out = tmp_path / "eval"
    args = ["eval", str(out), "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    assert main([*args, "--model", "none", "--reader", "none", "--out", str(eval_out), "--quiet"]) == 0
    assert "1 Frage(n) zur Prüfung (review) übersprungen: rm-" in capsys.readouterr().err
    metrics = json.loads((eval_out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["questions"] == 1 and metrics["skipped_review"] == 1
    results = [json.loads(line) for line in (eval_out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["question"] for r in results] == [QUESTION]
    overall = metrics["variants"][0]["overall"]
    assert (overall["questions"], overall["hit@1"], overall["exact_match"], overall["correct"]) == (1, 1.0, 1.0, 1.0)


def test_feedback_export_says_in_german_when_there_is_nothing(tmp_path, capsys):
    assert main(["feedback", "export", "--data", str(tmp_path)]) == 1
    assert "Keine Bewertungen zum Exportieren" in capsys.readouterr().err
    (tmp_path / "feedback.jsonl").write_text('{"vote": "down", "question": "  "}\nkaputt\n', encoding="utf-8")
    assert main(["feedback", "export", "--data", str(tmp_path)]) == 1
    assert eval_items([{"vote": "vielleicht", "question": "Was?"}]) == []
    target = tmp_path / "ordner"
    target.mkdir()
    (tmp_path / "feedback.jsonl").write_text('{"vote": "down", "question": "Was?", "answer": "-"}\n', encoding="utf-8")
    assert main(["feedback", "export", "--data", str(tmp_path), "--out", str(target)]) == 1
    assert "kann nicht geschrieben werden" in capsys.readouterr().err
    assert main(["feedback", "export", "--data", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["review"] is True


def test_feedback_export_reads_the_chats_data_folder_by_default(tmp_path, monkeypatch, capsys):
    (tmp_path / "feedback.jsonl").write_text(
        '{"answer_id": "ab", "vote": "up", "question": "Was?", "answer": "Das [1].", "sources": '
        '[{"kind": "citation", "doc_id": "d.txt"}]}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    assert main(["feedback", "export"]) == 0
    item = json.loads(capsys.readouterr().out)
    assert (item["id"], item["answers"], item["sources"]) == ("rm-ab", ["Das."], ["d.txt"])
    monkeypatch.delenv("ASSISTANT_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    Path(".data").mkdir()
    (tmp_path / "feedback.jsonl").rename(".data/feedback.jsonl")
    assert main(["feedback", "export"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "rm-ab"


# --- in a real browser -----------------------------------------------------------------------


def _answers(page):
    return page.locator("#chat .message-row")


def _listed(page):
    return page.locator("#gespraeche-liste label")


@pytest.mark.browser
def test_browser_conversation_survives_reload_and_stays_in_its_browser(server, browser, page):
    from playwright.sync_api import expect

    page.goto(server.url)
    expect(page.locator("#gespraeche-hinweis")).to_contain_text("Noch keine gespeicherten Gespräche")
    expect(page.locator("#feedback")).to_be_hidden()  # nothing to rate yet
    ask_in_browser(page, QUESTION)
    expect(_answers(page).last).to_contain_text("NIRO")
    expect(_listed(page)).to_have_count(1)
    expect(_listed(page).first).to_contain_text(QUESTION)
    expect(_listed(page).first.locator("input")).to_be_checked()  # the open one is marked
    stored = page.evaluate("() => Object.keys(localStorage)")
    assert "cluster-assistent-gespraeche" in stored

    page.reload()
    expect(_listed(page)).to_have_count(1)
    expect(_answers(page)).to_have_count(0)
    shot(page, "memory-1-nach-neuladen.png")
    _listed(page).first.click()
    expect(_answers(page).last).to_contain_text("NIRO")
    expect(page.locator("#quellen .quelle").first).to_contain_text("NIRO zum ClusterERFOLG 2022 gewählt")
    expect(page.locator("#bewertung")).to_contain_text("Bewertung für Antwort 1")
    page.locator("#quellen .quelle").first.get_by_role("button", name="Im Dokument anzeigen").click()
    expect(page.locator("#dokument mark.zitat")).to_contain_text("wurde NIRO")

    # A follow-up without a topic of its own reads the reopened history.
    page.locator("#frage textarea").fill(FOLLOW_UP)
    page.locator("#senden").click()
    expect(_answers(page)).to_have_count(4)
    expect(_answers(page).last).to_contain_text("20. Oktober 2022")
    expect(page.locator("#quellen .quelle").first).to_contain_text(NIRO)
    expect(_listed(page)).to_have_count(1)  # the same conversation, saved again
    shot(page, "memory-2-wieder-geoeffnet.png")

    other = browser.new_context(locale="de-DE", viewport={"width": 1400, "height": 1000})
    try:
        second = other.new_page()
        second.goto(server.url)
        expect(second.locator("#gespraeche-hinweis")).to_contain_text("Noch keine gespeicherten Gespräche")
        expect(second.locator("#gespraeche-liste label")).to_have_count(0)
        second.screenshot(path=str(ARTIFACTS / "memory-3-anderer-browser.png"), full_page=True)
    finally:
        other.close()

    page.locator("#neu").click()
    expect(_answers(page)).to_have_count(0)
    ask_in_browser(page, COSME)
    expect(_listed(page)).to_have_count(2)
    expect(_listed(page).first).to_contain_text(COSME)  # the newest first
    _listed(page).nth(1).click()
    expect(_answers(page)).to_have_count(4)
    page.locator("#gespraech-loeschen").click()
    expect(_listed(page)).to_have_count(1)
    expect(_answers(page)).to_have_count(0)  # the open one was deleted: the chat is empty
    expect(page.locator("#feedback")).to_be_hidden()
    page.reload()
    expect(_listed(page)).to_have_count(1)
    expect(_listed(page).first).to_contain_text(COSME)
    shot(page, "memory-4-geloescht.png")


def _pressed(page) -> tuple[str | None, str | None]:
    return (
        page.locator("#daumen-hoch").get_attribute("aria-pressed"),
        page.locator("#daumen-runter").get_attribute("aria-pressed"),
    )


@pytest.mark.browser
def test_browser_one_vote_per_answer_shown_on_the_answer_it_rates(server, page):
    from playwright.sync_api import expect

    feedback = server.data_dir / "feedback.jsonl"
    before = len(feedback.read_text(encoding="utf-8").splitlines()) if feedback.exists() else 0

    def records() -> list[dict]:
        lines = feedback.read_text(encoding="utf-8").splitlines() if feedback.exists() else []
        return [json.loads(line) for line in lines[before:]]

    page.goto(server.url)
    expect(page.locator("#index-status")).to_contain_text("5 Dokumente")
    expect(page.locator("#feedback")).to_be_hidden()
    expect(page.locator("#daumen-hoch")).to_have_count(0)  # no buttons before the first answer
    shot(page, "memory-5-vor-der-ersten-antwort.png")
    ask_in_browser(page, QUESTION)
    expect(page.locator("#bewertung")).to_contain_text(
        "Bewertung für Antwort 1: „Wer wurde zum ClusterERFOLG 2022 gewählt?“"
    )
    assert _pressed(page) == ("false", "false")

    page.locator("#daumen-hoch").click()
    expect(page.locator("#feedback-hinweis")).to_contain_text("Danke für Ihre Rückmeldung zu Antwort 1")
    expect(page.locator("#daumen-hoch")).to_have_attribute("aria-pressed", "true")
    page.locator("#daumen-hoch").click()
    expect(page.locator("#feedback-hinweis")).to_contain_text("Ihre Bewertung für Antwort 1 ist schon gespeichert")
    assert [r["vote"] for r in records()] == ["up"]  # 👍 twice: one record
    up = page.locator("#daumen-hoch")
    colours = up.evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b.nextElementSibling).backgroundColor]"
    )
    assert colours[0] != colours[1]  # the chosen one looks pressed
    shot(page, "memory-6-daumen-hoch.png")

    page.locator("#frage textarea").fill(FOLLOW_UP)
    page.locator("#senden").click()
    expect(page.locator("#bewertung")).to_contain_text("Bewertung für Antwort 2 von 2: „Und wann war das?“")
    expect(page.locator("#daumen-hoch")).to_have_attribute("aria-pressed", "false")  # a new answer, no vote yet
    page.locator("#daumen-runter").click()
    expect(page.locator("#daumen-runter")).to_have_attribute("aria-pressed", "true")
    page.locator("#kommentar textarea").fill("doch richtig")
    page.locator("#daumen-hoch").click()
    expect(page.locator("#feedback-hinweis")).to_contain_text("Bewertung für Antwort 2 geändert: 👍 hilfreich")
    assert _pressed(page) == ("true", "false")

    # Clicking the first answer binds the buttons to it, with its own vote.
    _answers(page).nth(1).click()
    expect(page.locator("#bewertung")).to_contain_text("Bewertung für Antwort 1 von 2")
    expect(page.locator("#daumen-hoch")).to_have_attribute("aria-pressed", "true")
    shot(page, "memory-7-erste-antwort-gewaehlt.png")

    votes = latest_votes(records())
    assert [(v["question"], v["vote"], v["comment"]) for v in votes] == [
        (QUESTION, "up", ""),
        (FOLLOW_UP, "up", "doch richtig"),
    ]
    assert len(records()) == 3  # 👍 on the first; 👎, then 👍 superseding it, on the second

    # The votes come back with the conversation.
    page.reload()
    page.locator("#gespraeche-liste label").first.click()
    expect(page.locator("#bewertung")).to_contain_text("Bewertung für Antwort 2 von 2")
    expect(page.locator("#daumen-hoch")).to_have_attribute("aria-pressed", "true")
    page.locator("#daumen-hoch").click()
    expect(page.locator("#feedback-hinweis")).to_contain_text("schon gespeichert")
    assert len(records()) == 3


@pytest.mark.browser
def test_browser_a_corrupt_store_and_a_hostile_question_break_nothing(server, browser):
    from playwright.sync_api import expect

    context = browser.new_context(locale="de-DE", viewport={"width": 1400, "height": 1000})
    context.add_init_script(
        "if (!sessionStorage.getItem('seeded')) { sessionStorage.setItem('seeded', '1');"
        " localStorage.setItem('cluster-assistent-gespraeche', 'kaputt:%%%'); }"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.url)
        expect(page.locator("#gespraeche-hinweis")).to_contain_text("Noch keine gespeicherten Gespräche")
        hostile = '<img src=x onerror="window.__pwned=1"> Förderung?'
        page.locator("#frage textarea").fill(hostile)
        page.locator("#senden").click()
        expect(_listed(page)).to_have_count(1)
        expect(_listed(page).first).to_contain_text(hostile)  # shown as text
        page.reload()
        _listed(page).first.click()
        expect(_answers(page).first).to_contain_text(hostile)
        assert page.evaluate("() => window.__pwned") is None
        page.screenshot(path=str(ARTIFACTS / "memory-8-feindliche-frage.png"), full_page=True)
    finally:
        context.close()
    assert not errors, errors
