"""How the chat looks and reads (issue 13): readable in the light and the dark scheme, [n] in an
answer leads to its card and back, German everywhere (also Gradio's own texts), a phone layout
with the question box and the sources first, and a staff area that asks before deleting and
keeps other open tabs current. The browser tests run Debian's chromium against the real app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ui_support import NIRO, PASSWORD, QUESTION, Server, shot, wait_for_staff_cookie

from assistant.index.build import BuildReport
from assistant.ui.german import GRADIO_TEXTS, gradio_i18n
from assistant.ui.render import LEXICAL_NOTICE, index_status, render_sources, report_markdown, staff_status
from assistant.ui.sync import ask_delete, cancel_delete, index_version, refresh_lists

# Gradio's queue statistics use pandas in a way pandas 3 deprecates; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MIN_CONTRAST = 4.5  # WCAG AA for body text

# The WCAG contrast ratio of an element's text against what lies behind it: the backgrounds of
# the element and its ancestors composited from the page down (a tint is half transparent).
CONTRAST_JS = """
(el) => {
  const parse = (c) => {
    const m = c.match(/^rgba?\\(([^)]+)\\)$/);
    if (!m) throw new Error('unerwartete Farbe ' + c);
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
  const layers = [];
  for (let x = el; x; x = x.parentElement) layers.push(parse(getComputedStyle(x).backgroundColor));
  let bg = [255, 255, 255, 1];
  for (const layer of layers.reverse()) bg = over(layer, bg);
  const fg = over(parse(getComputedStyle(el).color), bg);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}
"""

# What the text of the document view and the source cards sits in.
TEXT_PARTS = [
    "#dokument .dokument-text",
    "#dokument .passage",
    "#dokument mark.zitat",
    "#dokument .dokument-meta",
    "#dokument h3",
    "#quellen .quellen-kopf",
    "#quellen .quellen-frage",
    "#quellen .quelle-titel",
    "#quellen .quelle-meta",
    "#quellen .quelle-text",
    "#quellen mark.satz",
    "#quellen .quelle-oeffnen",
    "#quellen .quelle-nr",
]


def _contrasts(page, selectors: list[str]) -> dict[str, float]:
    found = {}
    for selector in selectors:
        items = page.locator(selector)
        assert items.count() > 0, f"{selector} fehlt auf der Seite"
        found[selector] = min(items.nth(i).evaluate(CONTRAST_JS) for i in range(min(items.count(), 3)))
    return found


def _open(browser, scheme: str, viewport: dict[str, int], locale: str = "de-DE"):
    context = browser.new_context(locale=locale, viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _ask(page, question: str = QUESTION):
    from playwright.sync_api import expect

    page.locator("#frage textarea").fill(question)
    page.locator("#senden").click()
    card = page.locator("#quellen .quelle").first
    expect(card).to_be_visible()
    expect(page.locator("#chat button.zitat-chip").first).to_be_visible()
    return card


def _login(page, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Mitarbeiterbereich").click()
    page.locator("#passwort input").fill(password)
    page.locator("#anmelden").click()
    if password == PASSWORD:
        expect(page.locator("#dokumentliste")).to_contain_text(NIRO)
        wait_for_staff_cookie(page, present=True)


# --- without a browser -----------------------------------------------------------------------


def test_chat_status_is_plain_and_staff_status_technical(server):
    chat = index_status(server.service)
    assert chat.startswith("5 Dokumente · ")
    assert LEXICAL_NOTICE in chat  # the test index is lexical-only
    assert "BM25" not in chat and "lexikalisch" not in chat and "Vektoren" not in chat
    staff = staff_status(server.service)
    assert "nur Stichwörter (BM25" in staff and "5 Dokumente" in staff


def test_build_report_has_no_generation_id_and_folds_the_details():
    report = BuildReport(generation="gen-000002", documents=6, chunks=30, seconds=1.25)
    report.warnings.append("Einbettungsmodell 'x' nicht verfügbar: … ASSISTANT_MODEL=none …")
    text = report_markdown(report, "Gelöscht: a.txt")
    assert "gen-000002" not in text
    assert text.startswith("Gelöscht: a.txt\n\n**Index aktualisiert** (in 1,2 s): 6 Dokumente, 30 Abschnitte")
    details = text[text.index("<details>") :]
    assert "ASSISTANT_MODEL" in details and "ASSISTANT_MODEL" not in text[: text.index("<details>")]


def test_cards_link_back_to_their_answer_and_stay_escaped(server):
    entry: dict[str, Any] = {
        "n": 2,
        "kind": "citation",
        "doc_id": "a.txt",
        "chunk_id": "a#0",
        "title": '<img src=x onerror="alert(1)">',
        "date": None,
        "page": None,
        "start": 0,
        "end": 5,
        "quote": "<b>x</b>",
        "passage_start": 0,
        "passage_end": 5,
        "short_start": None,
        "short_end": None,
    }
    html = render_sources([entry], 3, "Frage", None)  # type: ignore[list-item]
    assert '<article class="quelle" id="quelle-2" data-n="2" data-turn="3">' in html
    assert 'data-zur-antwort="2" data-turn="3"' in html
    assert "<img" not in html and "&lt;img src=x" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert html.startswith('<details class="quellen" open><summary')


def test_gradio_texts_are_german_for_every_browser_language():
    i18n = gradio_i18n().translations_dict
    assert i18n["de"] == i18n["en"] == GRADIO_TEXTS
    assert GRADIO_TEXTS["common.error"] == "Fehler" and GRADIO_TEXTS["chatbot.copy_message"] == "Nachricht kopieren"


def test_delete_asks_first_and_refresh_only_sends_what_changed(server):
    from assistant.ui.events import staff_login

    token = staff_login(server.service, PASSWORD)[0]
    row, question, note = ask_delete(server.service, token, NIRO)
    assert row["visible"] is True and question.startswith("**Wirklich löschen?**") and note == ""
    assert ask_delete(server.service, token, None)[2] == "Bitte zuerst ein Dokument auswählen."
    assert cancel_delete()[2] == "Nicht gelöscht."
    assert (server.settings.corpus_dir / NIRO).is_file()  # asking deletes nothing
    import gradio as gr

    with pytest.raises(gr.Error):
        ask_delete(server.service, "kein-token", NIRO)
    version = index_version(server.service)
    assert all(isinstance(v, type(gr.skip())) for v in refresh_lists(server.service, token, version))
    fresh = refresh_lists(server.service, token, "gen-000000")
    assert fresh[0] == version and "5 Dokumente" in fresh[2] and len(fresh[3]) == 5
    anonymous = refresh_lists(server.service, "", "gen-000000")
    assert anonymous[0] == version and isinstance(anonymous[3], type(gr.skip()))  # no staff table for guests


# --- in a real browser ---------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_browser_document_view_and_cards_are_readable(server, browser, scheme):
    from playwright.sync_api import expect

    context, page, errors = _open(browser, scheme, DESKTOP)
    try:
        page.goto(server.url + ("?__theme=dark" if scheme == "dark" else ""))
        card = _ask(page)
        card.get_by_role("button", name="Im Dokument anzeigen").click()
        expect(page.locator("#dokument mark.zitat")).to_contain_text("wurde NIRO")
        assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
        low = {k: round(v, 2) for k, v in _contrasts(page, TEXT_PARTS).items() if v < MIN_CONTRAST}
        shot(page, f"look-{'hell' if scheme == 'light' else 'dunkel'}-desktop.png")
        assert not low, f"zu wenig Kontrast ({scheme}): {low}"
    finally:
        context.close()
    assert not errors, errors


@pytest.mark.browser
def test_browser_citation_goes_to_its_card_and_back(server, page):
    page.goto(server.url)
    _ask(page)
    page.locator("#dokument-bereich").scroll_into_view_if_needed()  # the cards out of sight
    page.mouse.wheel(0, 3000)
    second = page.locator("#quellen .quelle[data-n='2']")
    chip = page.locator("#chat button.zitat-chip[data-n='2']").last
    chip.scroll_into_view_if_needed()
    chip.click()
    page.wait_for_function(
        "() => document.querySelector(\"#quellen .quelle[data-n='2']\").classList.contains('aufblitzen')"
    )
    page.wait_for_timeout(800)  # the smooth scroll
    assert _in_viewport(page, "#quellen .quelle[data-n='2']")
    assert page.locator("#quellen .quelle.aufblitzen").count() == 1  # only the card cited
    assert page.locator("#chat a").count() == 0  # buttons, not links
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    second.locator("button.quelle-nr").click()
    page.wait_for_function("() => document.querySelector('#chat [data-testid=\"bot\"].aufblitzen') !== null")
    page.wait_for_timeout(800)
    assert _in_viewport(page, '#chat [data-testid="bot"].aufblitzen')


def _in_viewport(page, selector: str) -> bool:
    return page.locator(selector).first.evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }"
    )


def _box(page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} nicht sichtbar"
    return box


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_browser_phone_question_box_first_and_sources_under_the_answer(server, browser, scheme):
    from playwright.sync_api import expect

    context, page, errors = _open(browser, scheme, PHONE)
    try:
        page.goto(server.url + ("?__theme=dark" if scheme == "dark" else ""))
        box = page.locator("#frage textarea")
        expect(box).to_be_visible()
        page.wait_for_timeout(500)  # the examples fold (page.js)
        field = _box(page, "#frage textarea")
        assert field["y"] >= 0 and field["y"] + field["height"] <= PHONE["height"], field  # no scrolling
        assert _box(page, "#senden")["y"] + _box(page, "#senden")["height"] <= PHONE["height"]
        assert field["width"] >= 0.75 * PHONE["width"], field  # the whole width, not squeezed beside "Senden"
        expect(page.locator("#beispiele .label-wrap")).not_to_have_class(re.compile(r"\bopen\b"))
        expect(page.locator("#beispiele").get_by_text("Welches Budget hat das COSME-Programm?")).to_be_hidden()
        _ask(page)
        chat, sources = _box(page, "#chat"), _box(page, "#quellen")
        question_row = _box(page, "#frage-zeile")
        assert chat["y"] < question_row["y"] < sources["y"]
        assert sources["y"] - (question_row["y"] + question_row["height"]) < 40, (question_row, sources)
        for later in ("#feedback", "#beispiele", "#filter"):
            assert _box(page, later)["y"] > sources["y"], later
        page.locator("#quellen summary").click()  # the sources fold away
        expect(page.locator("#quellen .quelle").first).to_be_hidden()
        page.locator("#quellen summary").click()
        expect(page.locator("#quellen .quelle").first).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"look-{'hell' if scheme == 'light' else 'dunkel'}-handy.png")
    finally:
        context.close()
    assert not errors, errors


ENGLISH = ("Error", "Textbox", "Copy message", "chatbot conversation", "More tabs", "steps", "Invalid file")


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["de-DE", "en-US"])
def test_browser_gradio_speaks_german(server, browser, locale):
    """Also in an English browser: Gradio's labels, aria-labels and toasts are German."""
    from playwright.sync_api import expect

    context, page, errors = _open(browser, "light", DESKTOP, locale)
    try:
        page.goto(server.url)
        _ask(page)
        assert page.evaluate("document.documentElement.lang") == "de"
        expect(page.get_by_role("textbox", name="Ihre Frage")).to_be_visible()
        labels = page.evaluate(
            "() => [...document.querySelectorAll('[aria-label]')].map(e => e.getAttribute('aria-label'))"
        )
        assert "Nachricht kopieren" in labels and "Gesprächsverlauf" in labels
        english = [label for label in labels if any(word in label for word in ENGLISH) or "'s message" in label]
        assert not english, english
        _login(page)
        page.locator("#hochladen-dateien input[type=file]").set_input_files(
            files=[{"name": "programm.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}]
        )
        toast = page.locator(".toast-wrap").first
        expect(toast).to_contain_text("Dieser Dateityp ist nicht erlaubt: programm.exe")
        expect(toast).to_contain_text("Fehler")
        assert not [word for word in ("Error", "Invalid", "Only") if word in toast.inner_text()], toast.inner_text()
        assert page.locator(".toast-wrap [aria-label='Close']").count() == 0
    finally:
        context.close()
    assert not errors, errors


@pytest.mark.browser
def test_browser_staff_confirms_delete_and_other_tabs_follow(tmp_path: Path, browser):
    from playwright.sync_api import expect

    srv = Server(tmp_path)
    context, page, errors = _open(browser, "light", DESKTOP)
    other_context, other, other_errors = _open(browser, "dark", PHONE)
    try:
        other.goto(srv.url + "?__theme=dark")  # a second tab, a guest's
        expect(other.locator("#index-status")).to_contain_text("5 Dokumente")
        page.goto(srv.url)
        _login(page, "falsch")
        note = page.locator("#login-hinweis").get_by_text("Das Passwort stimmt nicht.")
        expect(note).to_be_visible()
        assert note.evaluate(CONTRAST_JS) >= MIN_CONTRAST
        _login(page)
        expect(page.locator("#staff-status")).to_contain_text("nur Stichwörter")
        staff_text = page.locator("#staff-meldung").inner_text() + page.locator("#staff-status").inner_text()
        assert "gen-0" not in staff_text
        page.locator("#loeschen-wahl input").click()
        page.get_by_role("option", name=NIRO).click()
        page.locator("#loeschen").click()
        expect(page.locator("#loeschen-frage")).to_contain_text("Wirklich löschen?")
        expect(page.locator("#loeschen-frage")).to_contain_text(NIRO)
        shot(page, "look-mitarbeiter-loeschen-fragen.png")
        page.locator("#loeschen-nein").click()
        expect(page.locator("#staff-meldung")).to_contain_text("Nicht gelöscht.")
        expect(page.locator("#loeschen-bestaetigen")).to_be_hidden()
        assert (srv.settings.corpus_dir / NIRO).is_file()

        page.locator("#loeschen").click()
        page.locator("#loeschen-ja").click()
        expect(page.locator("#staff-meldung")).to_contain_text("Index aktualisiert", timeout=60_000)
        expect(page.locator("#staff-meldung")).not_to_contain_text("gen-0")
        assert not (srv.settings.corpus_dir / NIRO).exists()
        expect(page.locator("#dokumentliste")).not_to_contain_text(NIRO)
        # The other tab follows within a few seconds, without a reload.
        expect(other.locator("#index-status")).to_contain_text("4 Dokumente", timeout=10_000)
        other.locator("#filter").click()
        other.locator("#dokumente input").click()
        expect(other.get_by_role("option", name=re.compile("NIRO zum"))).to_have_count(0)
        page.get_by_role("tab", name="Mitarbeiterbereich").scroll_into_view_if_needed()
        shot(page, "look-mitarbeiter.png")
    finally:
        context.close()
        other_context.close()
        srv.close()
    assert not errors and not other_errors, (errors, other_errors)
