"""Navigation, cookie and sharing lines of web pages: removed from a document's text at parsing.

Copies of web pages (crawled, or pasted into a .txt like the shipped corpus) begin with "Skip to
main content", "Meldung" or "Startseite > Aktuelles > …" and end with "Teilen", "Drucken",
"Nach oben". Such a line names nothing and would become part of a chunk and a source card. Only
whole lines go, and only short ones that are nothing but such a phrase: "Die Meldung ging an
alle Mitglieder." stays. The same rule keeps these lines out of titles
(:func:`~assistant.ingest.parsers.guess_title`).

They are removed from the text itself, before dates, chunks and sentences are taken from it, so
every offset (``chunk.text == document.text[start:end]``, a citation's quote) refers to the
cleaned text.
"""

from __future__ import annotations

import re

_NETWORKS = r"(facebook|linkedin|twitter|xing|whatsapp|instagram|youtube|mastodon|bluesky)"
_SOCIAL = rf"({_NETWORKS[1:-1]}|x|e-mail|email)"
_PHRASES = (
    # skip links and page parts
    r"skip to (the )?(main )?(content|navigation)|skip navigation|zum inhalt( springen)?|direkt zum inhalt"
    r"|zum hauptinhalt( springen)?|zur navigation( springen)?|zur suche( springen)?|inhalt überspringen"
    r"|hauptmenü|hauptnavigation|menü|menu|navigation"
    # category labels standing alone
    r"|meldung|pressemitteilung|news|aktuelles|neuigkeiten|startseite|home"
    # sharing and printing
    r"|teilen|share|seite teilen|artikel teilen|beitrag teilen|diese seite teilen|drucken|seite drucken"
    r"|diese seite drucken|artikel drucken|druckversion|weiterempfehlen|per e-mail (versenden|teilen|senden)"
    rf"|(share|teilen) (on|auf|via|über|per) {_SOCIAL}|(auf|bei|via) {_SOCIAL} teilen"
    # back and up
    r"|nach oben|zurück nach oben|seitenanfang|zum seitenanfang|back to top|zurück|zurück zur übersicht"
    r"|zur übersicht|zurück zur startseite|weiterlesen|mehr lesen|mehr erfahren|read more"
    # cookie banners
    r"|cookie-einstellungen|cookie einstellungen|cookie-hinweis|cookie-richtlinie|cookies akzeptieren"
    r"|alle cookies akzeptieren|alle akzeptieren|akzeptieren|ablehnen|alle ablehnen|nur notwendige cookies"
    r"|nur essenzielle cookies|einstellungen speichern|auswahl speichern|accept all( cookies)?|cookie settings"
)
_SPACE = r"[ \t\u00a0]"
# A line that is one of the phrases, maybe with a trailing colon or bullet signs around it.
_PHRASE_LINE = rf"[ \t\u00a0#•·|>›»\-–]*(?:{_PHRASES}){_SPACE}*[:.!]?{_SPACE}*"
# "Wir verwenden Cookies, um …" / "Diese Website verwendet Cookies." : a banner's sentence,
# only as a short line of its own.
_COOKIE_BANNER = (
    rf"{_SPACE}*(?:wir (?:verwenden|nutzen|setzen)(?: auf (?:unserer|dieser) (?:web)?seite)?"
    r"|(?:diese|unsere) (?:web)?(?:seite|site) (?:verwendet|nutzt)|this (?:web)?site uses|we use)"
    r" (?:technisch notwendige |essenzielle )?cookies\b.*"
)
# "Startseite > Aktuelles > Meldung", "Sie sind hier: Home / News / …": a breadcrumb trail.
_BREADCRUMB = (
    rf"(?=.{{0,150}}$){_SPACE}*(?:(?:sie sind hier:?{_SPACE}*)?(?:startseite|home){_SPACE}*[>›»/|→]{_SPACE}*\S.*"
    rf"|sie sind hier:.*)"
)
MAX_LINE_CHARS = 200  # a longer line is content, whatever it begins with
# One pass over the text, without a list of its lines (a 49 MB text has a million of them).
_LINE = re.compile(
    rf"^(?=.{{1,{MAX_LINE_CHARS}}}$)(?:{_PHRASE_LINE}|{_COOKIE_BANNER}|{_BREADCRUMB})$\n?",
    re.IGNORECASE | re.MULTILINE,
)


def is_boilerplate(line: str) -> bool:
    """Whether a line (without its line break) is navigation, sharing or cookie text."""
    return "\n" not in line and _LINE.fullmatch(line) is not None


def strip_boilerplate(text: str) -> str:
    """``text`` without its boilerplate lines (each with its line break); the other lines stay
    as they were, character for character."""
    return _LINE.sub("", text)


def removed_lines(text: str) -> list[str]:
    """The lines :func:`strip_boilerplate` removes (for reports and tests)."""
    return [m.group(0).rstrip("\n") for m in _LINE.finditer(text)]
