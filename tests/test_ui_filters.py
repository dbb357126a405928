"""The chat's date and document filters (assistant/ui/filters.py, ui/inputs.py) and the
``/ask`` API's history and filters: German and ISO dates and the German messages for wrong ones,
the event list of a filtered range ("Welche Veranstaltungen gab es?" with 2017 lists the 2017
training), the active-filter line, what an answer that found nothing with a filter says, and
the API through gradio_client against the real server. Then the same in Debian's chromium
(Playwright): German dates typed, a wrong date, the line with the panel closed, its reset,
"Neues Gespräch" and "Ohne Filter suchen". Offline, lexical-only, over copies of corpus/."""

from __future__ import annotations

import json
import re
from datetime import date

import gradio as gr
import pytest
from ui_support import BALTIC, NIRO, QUESTION, ui_settings

from assistant.errors import InputError
from assistant.search.query import understand, with_filter_dates
from assistant.types import SearchFilters
from assistant.ui.events import ask_api, new_conversation, respond
from assistant.ui.filters import after_answer, reset_filters, search_without_filter, show_filters
from assistant.ui.inputs import checked_history, make_filters, parse_date
from assistant.ui.service import Service

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
EVENTS = "Welche Veranstaltungen gab es?"
EVENTS_2022 = "Welche Veranstaltungen gab es 2022?"
YEAR_2017 = SearchFilters(None, date(2017, 1, 1), date(2017, 12, 31))


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Service:
    root = tmp_path_factory.mktemp("filters")
    return Service(ui_settings(root), data_dir=root / "data", staff_password="")


def _cited(answer: dict) -> set[str]:
    return {c["doc_id"] for c in answer["citations"]}


# --- dates as typed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("01.01.2017", date(2017, 1, 1)),
        ("1.5.2017", date(2017, 5, 1)),
        (" 31.12.2017 ", date(2017, 12, 31)),
        ("2017-12-31", date(2017, 12, 31)),
        ("2017-12-31 10:30:00", date(2017, 12, 31)),
        ("2017-12-31T10:30", date(2017, 12, 31)),
        ("", None),
        (None, None),
    ],
)
def test_dates_german_and_iso(typed, expected):
    assert parse_date(typed) == expected


@pytest.mark.parametrize(
    "typed, says",
    [
        (
            "31.02.2017",
            "Ungültiges Datum „31.02.2017“ im Feld „Datum von“: Diesen Tag gibt es nicht (Format TT.MM.JJJJ).",
        ),
        ("2017-13-01", "Ungültiges Datum „2017-13-01“ im Feld „Datum von“: Diesen Tag gibt es nicht"),
        ("01/01/2017", "Ungültiges Datum „01/01/2017“ im Feld „Datum von“: bitte als TT.MM.JJJJ angeben"),
        ("01.01.17", "bitte als TT.MM.JJJJ angeben, z. B. 31.12.2017."),
        ("2017-01-01xyz", "Ungültiges Datum „2017-01-01xyz“"),  # no longer cut to its first ten characters
        ("x" * 300, "„" + "x" * 40 + "…“"),  # the message repeats only the beginning
    ],
)
def test_wrong_dates_get_a_german_message(typed, says):
    with pytest.raises(InputError) as info:
        make_filters(typed, None, None)
    assert says in str(info.value)


def test_from_after_to_names_both_dates():
    with pytest.raises(InputError, match=r"„von“ \(31\.12\.2017\) liegt nach dem Datum „bis“ \(01\.01\.2017\)"):
        make_filters("31.12.2017", "2017-01-01", None)
    assert make_filters("01.01.2017", "2017-12-31", None) == YEAR_2017


# --- the event list of a filtered range -------------------------------------------------------


def test_filter_range_is_the_range_of_an_event_list_question():
    intent = with_filter_dates(understand(EVENTS), YEAR_2017)
    assert (intent.list_events, intent.date_from, intent.date_to) == (True, date(2017, 1, 1), date(2017, 12, 31))
    assert intent.date_label == "den Zeitraum 01.01.2017 – 31.12.2017"
    assert with_filter_dates(understand(EVENTS), SearchFilters(None, date(2017, 1, 1))).date_to == date.max
    # Unchanged: no date filter, a date of its own, no question for a list of events.
    assert with_filter_dates(understand(EVENTS), SearchFilters(frozenset({NIRO}))) == understand(EVENTS)
    assert with_filter_dates(understand(EVENTS_2022), YEAR_2017) == understand(EVENTS_2022)
    assert with_filter_dates(understand(QUESTION), YEAR_2017) == understand(QUESTION)


def test_events_of_a_filtered_range_are_listed(service):
    """Abstained before: none of the question's words is in the 2017 training, so the search
    restricted to 2017 found nothing; now the documents dated in the range are listed."""
    assistant = service.assistant
    filtered = assistant.ask(EVENTS, filters=YEAR_2017)
    assert not filtered.abstained
    assert {c.doc_id for c in filtered.citations} == {BALTIC}
    assert filtered.text.startswith("In den Dokumenten finde ich für den Zeitraum 01.01.2017 – 31.12.2017")
    assert "17.05.2017" in filtered.text
    unfiltered = assistant.ask(EVENTS)
    assert unfiltered.text != filtered.text and BALTIC not in {c.doc_id for c in unfiltered.citations}
    # Only "bis": also listed; a document filter still holds (NIRO has no date in 2017).
    assert {
        c.doc_id for c in assistant.ask(EVENTS, filters=SearchFilters(None, None, date(2017, 12, 31))).citations
    } == {BALTIC}
    assert assistant.ask(
        EVENTS, filters=SearchFilters(frozenset({NIRO}), date(2017, 1, 1), date(2017, 12, 31))
    ).abstained


def test_dated_hits_earliest_first_bounded_and_filtered(service):
    retriever = service.assistant.retriever
    since_2017 = SearchFilters(None, date(2017, 1, 1), None)
    hits = retriever.dated_hits(since_2017, set(), 10)
    docs = [h.chunk.doc_id for h in hits]
    assert docs[0] == BALTIC and len(docs) == len(set(docs)) == 4  # the Sommerempfang names no date
    assert all(h.score == 0.0 for h in hits)
    assert [h.chunk.doc_id for h in retriever.dated_hits(since_2017, {BALTIC}, 2)] == docs[1:3]
    assert retriever.dated_hits(SearchFilters(frozenset({NIRO}), date(2017, 1, 1)), set(), 10)[0].chunk.doc_id == NIRO
    assert retriever.dated_hits(SearchFilters(None, date(1990, 1, 1), date(1990, 12, 31)), set(), 10) == []


# --- the filter line and answers with filters (handlers) -------------------------------------------


def test_filter_line_follows_the_form(service):
    row, text, without, note = show_filters(service, "", None, [], [])
    assert (row["visible"], text, without["visible"], note) == (False, "", False, "")
    row, text, without, note = show_filters(service, "01.01.2017", "31.12.2017", [], [])
    assert row["visible"] and note == "" and not without["visible"]
    assert text == "**Filter aktiv:** 01.01.2017 – 31.12.2017 · 1 von 5 Dokumenten"
    _, text, _, _ = show_filters(service, "2017-01-01", None, [NIRO, BALTIC], [])
    assert text == "**Filter aktiv:** ab 01.01.2017 · 2 ausgewählte Dokumente · 2 von 5 Dokumenten"
    _, text, _, _ = show_filters(service, "01.01.1990", "31.12.1990", None, [])
    assert text.endswith("· kein Dokument passt")
    row, text, without, note = show_filters(service, "31.02.2017", None, [], [])
    assert row["visible"] and text.startswith("**Filter ungültig:** Ungültiges Datum „31.02.2017“")
    assert "Diesen Tag gibt es nicht" in note


def test_answer_that_finds_nothing_with_a_filter_says_so(service):
    steps = list(respond(service, EVENTS_2022, [], "01.01.2017", "31.12.2017", None))
    conversation = steps[-1][1]
    shown = steps[-1][0][-1]["content"]
    assert conversation[-1]["abstained"]
    assert "Mit dem aktiven Filter (01.01.2017 – 31.12.2017) wurde nichts gefunden." in shown
    assert "„Ohne Filter suchen“" in shown
    assert after_answer(service, "01.01.2017", "31.12.2017", None, conversation)[2]["visible"]
    # "Ohne Filter suchen": filters emptied, the question back in the box; asked again it is answered.
    *fields_and_line, question = search_without_filter(conversation)
    assert tuple(fields_and_line) == reset_filters() and question == EVENTS_2022
    steps = list(respond(service, question, conversation, "", "", []))
    again = steps[-1][1][-1]
    assert not again["abstained"] and "Mit dem aktiven Filter" not in steps[-1][0][-1]["content"]
    assert not after_answer(service, "", "", [], steps[-1][1])[2]["visible"]
    # Without a filter an abstention says nothing about filters; a found answer neither.
    steps = list(respond(service, "Wie heißt der Hund des Bürgermeisters von Atlantis?", [], None, None, None))
    assert steps[-1][1][-1]["abstained"] and "Filter" not in steps[-1][0][-1]["content"]


def test_new_conversation_and_reset_empty_the_filters(service):
    date_from, date_to, docs, row, text, without, note = reset_filters()
    assert (date_from, date_to, docs, text, note) == ("", "", [], "", "")
    assert not row["visible"] and not without["visible"]
    assert new_conversation()[1] == []  # the conversation's own reset is unchanged
    # A conversation just emptied leaves the line to the filters' reset (no race with it).
    assert after_answer(service, "01.01.2017", "", [], [])[:2] == (gr.skip(), gr.skip())


# --- /ask: history and filters ------------------------------------------------------------------


def test_history_forms():
    answer = {"answer": "…", "citations": [{"doc_id": NIRO}]}
    assert checked_history(None) == [] and checked_history([]) == []
    assert checked_history(["  Frage  ", [QUESTION, answer], {"question": QUESTION, "answer": "Text"}, [QUESTION]]) == [
        ("Frage", None),
        (QUESTION, answer),
        (QUESTION, "Text"),
        (QUESTION, None),
    ]
    for wrong, says in [
        ("eine Frage", "muss eine Liste"),
        ([42], "Eintrag 1 des Verlaufs"),
        ([QUESTION, {"frage": QUESTION}], "Eintrag 2 des Verlaufs"),
        ([[QUESTION, 42]], "weder Text noch ein Objekt"),
        ([[QUESTION, "a", "b"]], "Eintrag 1"),
        (["x"] * 101, "höchstens 100"),
    ]:
        with pytest.raises(InputError, match=says):
            checked_history(wrong)


def test_ask_api_has_the_chats_semantics(service):
    first = ask_api(service, QUESTION)
    assert _cited(first) == {NIRO}
    # A follow-up without a topic of its own, after the question in each history form.
    for history in ([QUESTION], [[QUESTION, first]], [{"question": QUESTION, "answer": first}]):
        follow_up = ask_api(service, "Wann war das?", history)
        assert "20. Oktober 2022" in follow_up["answer"] and _cited(follow_up) == {NIRO}, history
    steps = list(respond(service, QUESTION, [], None, None, None))
    chat = list(respond(service, "Wann war das?", steps[-1][1], None, None, None))[-1][1][-1]
    assert chat["content"] == ask_api(service, "Wann war das?", [[QUESTION, first]])["answer"]
    # Dates in either form, documents: as the chat's filters.
    german = ask_api(service, EVENTS, date_from="01.01.2017", date_to="31.12.2017")
    assert german == ask_api(service, EVENTS, date_from="2017-01-01", date_to="2017-12-31")
    assert _cited(german) == {BALTIC} and not german["abstained"]
    assert german["answer"] == service.assistant.ask(EVENTS, filters=YEAR_2017).text
    assert set(german) == {"question", *service.assistant.ask(EVENTS).to_json()}  # the `ask --json` object
    only = ask_api(service, "Welches Budget hat das COSME-Programm?", documents=[BALTIC])
    assert (
        _cited(only) == {BALTIC}
        and ask_api(service, "Welches Budget hat das COSME-Programm?", documents=BALTIC) == only
    )


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"date_from": "31.02.2017"}, "Ungültiges Datum „31.02.2017“ im Feld „Datum von“"),
        ({"date_to": "morgen"}, "Ungültiges Datum „morgen“ im Feld „Datum bis“"),
        ({"date_from": "2018-01-01", "date_to": "01.01.2017"}, "liegt nach dem Datum"),
        ({"documents": ["gibt-es-nicht.txt"]}, "Unbekanntes Dokument: „gibt-es-nicht.txt“"),
        ({"documents": [1, 2]}, "Liste von Dokument-IDs"),
        ({"history": [{"frage": "x"}]}, "Eintrag 1 des Verlaufs"),
    ],
)
def test_ask_api_bad_values_get_a_german_error(service, kwargs, says):
    with pytest.raises(gr.Error) as info:
        ask_api(service, QUESTION, **kwargs)
    assert says in info.value.message and info.value.title == "Hinweis"


def test_api_with_history_and_filters_through_gradio_client(server):
    """The served /ask keeps its typed signature: gradio_client calls it with keyword arguments."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server.url, verbose=False)
    endpoint = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/ask"]
    names = [p["parameter_name"] for p in endpoint["parameters"]]
    assert names == ["question", "history", "date_from", "date_to", "documents"]
    assert [p["parameter_has_default"] for p in endpoint["parameters"]] == [False, True, True, True, True]
    result = client.predict(EVENTS, date_from="01.01.2017", date_to="2017-12-31", api_name="/ask")
    assistant = server.service.assistant
    assert result == {"question": EVENTS, **assistant.ask(EVENTS, filters=YEAR_2017).to_json()}
    assert _cited(result) == {BALTIC}
    first = client.predict(question=QUESTION, api_name="/ask")
    follow_up = client.predict(question="Wann war das?", history=[[QUESTION, first]], api_name="/ask")
    assert "20. Oktober 2022" in follow_up["answer"] and _cited(follow_up) == {NIRO}
    only = client.predict(question="Welches Budget hat das COSME-Programm?", documents=[BALTIC], api_name="/ask")
    assert _cited(only) == {BALTIC}
    with pytest.raises(AppError, match=re.escape("Ungültiges Datum „31.02.2017“")):
        client.predict(QUESTION, date_from="31.02.2017", api_name="/ask")


def _ask_over_http(server, data: list) -> dict:
    import httpx

    response = httpx.post(server.url + "gradio_api/call/ask", json={"data": data}, timeout=60)
    assert response.status_code == 200, response.text
    lines = httpx.get(server.url + f"gradio_api/call/ask/{response.json()['event_id']}", timeout=60).text.splitlines()
    event = next(line[6:].strip() for line in lines if line.startswith("event:") and "heartbeat" not in line)
    data_line = next(line for line in reversed(lines) if line.startswith("data:"))
    return {"event": event, "data": json.loads(data_line[5:])}


def test_api_over_plain_http_with_the_question_only_or_all_arguments(server):
    """Plain HTTP may leave the optional arguments out (Gradio itself would refuse that)."""
    only = _ask_over_http(server, [QUESTION])
    assert only["event"] == "complete" and _cited(only["data"][0]) == {NIRO}
    full = _ask_over_http(server, [EVENTS, None, "01.01.2017", "31.12.2017", None])
    assert full["event"] == "complete" and _cited(full["data"][0]) == {BALTIC}
    wrong = _ask_over_http(server, [EVENTS, None, "31.02.2017"])
    assert wrong["event"] == "error" and "Ungültiges Datum „31.02.2017“" in json.dumps(
        wrong["data"], ensure_ascii=False
    )


# --- in a real browser ---------------------------------------------------------------------


def _send(page, question: str, answers_before: int):
    """Types ``question``, sends it and waits for its answer; returns the answer's message."""
    from playwright.sync_api import expect

    page.locator("#frage textarea").fill(question)
    page.locator("#senden").click()
    rows = page.locator("#chat .message-row")
    expect(rows).to_have_count(2 * answers_before + 2)
    answer = rows.last
    expect(answer).not_to_contain_text("Ich suche in den Dokumenten")
    return answer


def _toggle_filter_panel(page) -> None:
    page.locator("#filter").get_by_text("Filter", exact=True).click()


def _type_dates(page, date_from: str, date_to: str) -> None:
    """Types the dates as a user does and leaves the field (Tab): that updates the filter line."""
    for elem_id, value in (("datum-von", date_from), ("datum-bis", date_to)):
        field = page.locator(f"#{elem_id}").get_by_role("textbox")
        field.fill(value)
        field.press("Tab")


@pytest.mark.browser
def test_browser_german_dates_filter_the_events_and_the_line_shows_them(server, page):
    from playwright.sync_api import expect
    from ui_support import shot

    page.goto(server.url)
    expect(page.locator("#index-status")).to_contain_text("5 Dokumente")
    line = page.locator("#filter-aktiv")
    expect(line).to_be_hidden()
    unfiltered = _send(page, EVENTS, 0).inner_text()
    assert "BalticNet" not in unfiltered

    _toggle_filter_panel(page)
    von = page.locator("#datum-von").get_by_role("textbox")
    expect(von).to_have_attribute("placeholder", "z. B. 01.01.2017")
    expect(page.locator("#datum-von")).to_contain_text("Datum von (TT.MM.JJJJ)")
    _type_dates(page, "01.01.2017", "31.12.2017")
    expect(line).to_contain_text("Filter aktiv: 01.01.2017 – 31.12.2017 · 1 von 5 Dokumenten")
    expect(page.locator("#filter-hinweis")).to_have_text("")
    _toggle_filter_panel(page)  # closed: the fields are hidden, the line above the chat is not
    expect(von).to_be_hidden()
    expect(line).to_be_visible()
    answer = _send(page, EVENTS, 1)
    expect(answer).to_contain_text(
        "In den Dokumenten finde ich für den Zeitraum 01.01.2017 – 31.12.2017 diesen Eintrag"
    )
    expect(answer).to_contain_text("BalticNet-PlasmaTec")
    assert answer.inner_text() != unfiltered
    expect(page.locator("#quellen .quelle")).to_have_count(1)
    expect(page.locator("#quellen .quelle").first).to_contain_text(BALTIC)
    shot(page, "filter-1-deutsche-daten-zugeklappt.png")

    page.locator("#filter-zuruecksetzen").click()
    expect(line).to_be_hidden()
    _toggle_filter_panel(page)
    expect(von).to_have_value("")
    expect(page.locator("#datum-bis").get_by_role("textbox")).to_have_value("")
    again = _send(page, EVENTS, 2)
    assert again.inner_text() == unfiltered


@pytest.mark.browser
def test_browser_wrong_dates_are_named_in_german_and_new_conversation_resets(server, page):
    from playwright.sync_api import expect
    from ui_support import shot

    page.goto(server.url)
    _toggle_filter_panel(page)
    _type_dates(page, "31.02.2017", "")
    note = page.locator("#filter-hinweis")
    expect(note).to_contain_text("Ungültiges Datum „31.02.2017“ im Feld „Datum von“: Diesen Tag gibt es nicht")
    expect(page.locator("#filter-aktiv")).to_contain_text("Filter ungültig")
    page.locator("#frage textarea").fill(EVENTS)
    page.locator("#senden").click()  # refused with the same message; nothing is answered
    expect(page.locator(".toast-body").first).to_contain_text("Diesen Tag gibt es nicht")
    expect(page.locator("#chat .message-row")).to_have_count(0)
    shot(page, "filter-2-falsches-datum.png")

    _type_dates(page, "2018-01-01", "01.01.2017")
    expect(note).to_contain_text("Das Datum „von“ (01.01.2018) liegt nach dem Datum „bis“ (01.01.2017)")
    _type_dates(page, "01.01.2017", "31.12.2017")
    expect(note).to_have_text("")
    expect(page.locator("#filter-aktiv")).to_contain_text("Filter aktiv: 01.01.2017 – 31.12.2017")
    _send(page, EVENTS, 0)
    page.locator("#neu").click()
    expect(page.locator("#chat .message-row")).to_have_count(0)
    expect(page.locator("#filter-aktiv")).to_be_hidden()
    expect(page.locator("#datum-von").get_by_role("textbox")).to_have_value("")
    expect(page.locator("#datum-bis").get_by_role("textbox")).to_have_value("")


@pytest.mark.browser
def test_browser_nothing_found_with_a_filter_offers_to_search_without(server, page):
    from playwright.sync_api import expect
    from ui_support import shot

    page.goto(server.url)
    _toggle_filter_panel(page)
    _type_dates(page, "01.01.2017", "31.12.2017")
    answer = _send(page, EVENTS_2022, 0)
    expect(answer).to_contain_text("Mit dem aktiven Filter (01.01.2017 – 31.12.2017) wurde nichts gefunden.")
    without = page.locator("#ohne-filter")
    expect(without).to_be_visible()
    shot(page, "filter-3-nichts-gefunden.png")
    without.click()
    rows = page.locator("#chat .message-row")
    expect(rows).to_have_count(4)
    expect(rows.last).to_contain_text("In den Dokumenten finde ich für 2022")
    expect(page.locator("#filter-aktiv")).to_be_hidden()
    expect(page.locator("#datum-von").get_by_role("textbox")).to_have_value("")
    shot(page, "filter-4-ohne-filter.png")
