"""What a question asks for: its kind (wann, wer, wo, wie viele, was ist, wie kann man ...), the
subject of a definition, a list across documents ("Welche Förderprogramme gibt es?"), dates and
date order, whether it asks about what lies ahead of today or about a deadline, and, for
follow-ups, what to carry over from the previous question."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ..ingest.dates import extract_dates
from ..types import Answer, SearchFilters

_MAX_CHAIN = 4  # how many earlier questions a chain of follow-ups may reach back

_KINDS = [
    (
        "when",
        re.compile(r"^\s*(und\s+)?(wann|seit wann|bis wann|an welchem (tag|datum)|in welchem (jahr|monat))\b", re.I),
    ),
    ("number", re.compile(r"^\s*(und\s+)?(wie (viele?|hoch|groß|lange|alt|weit|teuer)|wieviele?)\b", re.I)),
    ("who", re.compile(r"^\s*(und\s+)?(wer|wem|wen|wessen|von wem)\b", re.I)),
    ("where", re.compile(r"^\s*(und\s+)?(wo|wohin|woher|in welche[rm]? (stadt|ort|land|region))\b", re.I)),
    ("why", re.compile(r"^\s*(und\s+)?(warum|weshalb|wieso|wozu)\b", re.I)),
    (
        "definition",
        re.compile(
            r"^\s*(und\s+)?(was (genau )?(ist|sind|war|waren|bedeutet|bedeuten|meint|heißt)\b|wofür steht|"
            r"was versteht man unter|was verbirgt sich hinter|was ist mit)",
            re.I,
        ),
    ),
    (
        "procedure",
        re.compile(
            r"^\s*(und\s+)?(wie (kann|können|könnte|muss|müssen|soll|sollte|darf) (man|ich|wir|\w+)\b|"
            r"wie (bewirbt|meldet|beantragt) man|wie (beantrage|bewerbe|melde) ich|wie funktioniert|"
            r"was muss (man|ich)|welche schritte|wie läuft\b.*\bab\b|wie (erfolgt|geht))",
            re.I,
        ),
    ),
]
# "Was ist das Digitalwerk Werder?" -> "Digitalwerk Werder"
_SUBJECT = re.compile(
    r"^\s*(?:und\s+)?(?:was (?:genau )?(?:ist|sind|war|waren|bedeutet|bedeuten|meint|heißt)|wofür steht|"
    r"was versteht man unter|was verbirgt sich hinter|was ist mit)\s+"
    r"(?:(?:der|die|das|den|dem|des|ein|eine|einer|eines|einem|einen)\s+)?(?P<subject>[^?!.]+?)"
    r"(?:\s+(?:gemeint|genau|eigentlich))?\s*[?!.]*\s*$",
    re.I,
)
# "Welche Förderprogramme gibt es für KMU?": one item per document; "Welche Projekte stellte das
# ifii vor?" is an ordinary question (one document answers it).
_LIST = re.compile(
    r"^\s*(?:und\s+)?(?:welche|was für)\s+(?:\w+\s+){0,2}?(?P<noun>[A-ZÄÖÜ][\w-]+)\s+"
    r"(?:gibt es|gab es|existier\w*|werden\b.*\b(?:angeboten|gefördert)|stehen\b.*\bzur verfügung|"
    r"kommen\b.*\bin frage|kennst du|kennen sie|bieten\b)",
    re.I,
)
_FOLLOW_UP = re.compile(
    r"^\s*(und|aber|auch|außerdem|sowie)\b|\b(dort|dabei|damals|davon|dazu|daran|darüber|dafür|"
    r"diese[mnrs]?|jene[mnrs]?|derselben?|demselben)\b",
    re.I,
)
_LATEST = re.compile(r"\b(letzte[mnrs]?|neueste[mnrs]?|jüngste[mnrs]?|aktuellste[mnrs]?|zuletzt)\b", re.I)
_EARLIEST = re.compile(r"\b(erste[mnrs]?|älteste[mnrs]?|früheste[mnrs]?)\b", re.I)
_UPCOMING = re.compile(
    r"\b(kommende[mnrs]?|bevorstehende[mnrs]?|nächste[mnrs]?|geplante[mnrs]?|geplant|künftige[mnrs]?|"
    r"zukünftige[mnrs]?|anstehende[mnrs]?|demnächst|bald|in zukunft|aktuelle[mnrs]?|aktuell|derzeit|"
    r"zurzeit|momentan|noch offen\w*|offene[mnrs]?|(steht|stehen)(\s+\w+){0,4}\s+an)\b",
    re.I,
)
# Words by which a question asks about a deadline ("Bewerbungsfrist", "Anmeldeschluss", "Bis wann
# …?"); a sentence names one by the same nouns and verbs or by "bis zum", "spätestens",
# "einzureichen" (words that in a question more often ask about history: "bis zum Jahr 1990").
_DEADLINE_WORDS = r"\w*frist\w*|\w*schluss|deadline|stichtag|einreich\w*|bewerb\w*|anmeld\w*"
DEADLINE_SENTENCE = re.compile(rf"\b({_DEADLINE_WORDS}|spätestens|bis zum|einzureichen|registrier\w*)\b", re.I)
_DEADLINE = re.compile(rf"\b({_DEADLINE_WORDS}|bis wann|läuft\b.*\bab)\b", re.I)
# What "demnächst" or "aktuell" may be about: events, deadlines, calls and programmes.
_PLANNED_NOUN = re.compile(r"(förder|programm|ausschreibung|aufruf|frist|bewerbung|antr[aä]g|angebot)", re.I)
_EVENTS = re.compile(
    r"\b(welche|was für)\s+(\w+\s+)?(veranstaltungen|events|termine|treffen|workshops|konferenzen|"
    r"tagungen|seminare|schulungen|trainings)\b|\bwas (fand|gab es|war|passierte)\b.*\b(statt|los)?\b",
    re.I,
)
_EVENT_NOUN = re.compile(
    r"(veranstaltung|event|termin|treffen|tagung|konferenz|workshop|seminar|schulung|training|messe|"
    r"empfang|meldung|nachricht|news|beitrag|ausschreibung|aufruf|wettbewerb|camp|webinar|sitzung)",
    re.I,
)
# "Was steht demnächst an?", "Was kommt als Nächstes?": about what lies ahead without naming it.
_WHAT_AHEAD = re.compile(r"^\W*was (steht|stehen|kommt|kommen|passiert|ist geplant|läuft)\b", re.I)
# Words that say a question is about dates ahead, not what about: "Welche Veranstaltungen finden
# demnächst statt?" names no topic and looks at every dated document.
_AHEAD_VERBS = frozenset("finden steht stehen kommt kommen läuft laufen geplant geplante passiert an".split())
_THIS_YEAR = re.compile(r"\b(dieses|diesem|in diesem|im laufenden)\s+jahr\b", re.I)
# "letztes Jahr", "im Vorjahr" (but not "im Jahr der Gründung": "im Jahr" alone is no date)
_LAST_YEAR = re.compile(r"\b(letztes|letzten|vergangenes|vergangenen)\s+jahr(es)?\b|\b(im\s+)?vorjahr(es)?\b", re.I)
# Verbs that make a short question complete: "Was ist COSME?" is none, "Wie viele Teilnehmer?" is.
_VERB = re.compile(
    r"\b(ist|sind|war|waren|gibt|gab|hat|hatte|haben|hatten|wird|werden|wurde|wurden|"
    r"fand|findet|kam|kamen|kommt|kommen|heißt|hieß|bedeutet|macht|machte)\b",
    re.I,
)
_QUESTION_WORDS = frozenset(
    "wann wer wem wen wessen wo wohin woher was welche welcher welches welchen welchem wie warum "
    "weshalb wieso wozu und aber auch gab gibt fand findet statt wurde wurden".split()
)
# Words of a question that say what is asked, not about what: they do not count when checking
# whether a passage covers the question.
GENERIC_WORDS = _QUESTION_WORDS | frozenset(
    "viele viel hoch lange groß heißt hieß lautet lauten nennt genannt gibt gab geben kann können "
    "konnte man etwa genau bitte eigentlich jemand etwas welchem welchen passierte passiert thema "
    "themen bereich letzte letzten letzter letztes neueste neuesten jüngste jüngsten aktuellste "
    "erste ersten älteste früheste kommende nächste".split()
)


@dataclass(frozen=True)
class Intent:
    question: str
    search_text: str
    kind: str = "other"
    date_from: date | None = None
    date_to: date | None = None
    date_label: str | None = None
    order: str | None = None  # "latest" or "earliest"
    list_events: bool = False
    follow_up: bool = False
    carried_terms: tuple[str, ...] = ()
    previous_docs: tuple[str, ...] = ()
    subject: str | None = None  # what a definition question asks about: "COSME"
    list_of: str | None = None  # the plural noun of a list across documents: "Förderprogramme"
    upcoming: bool = False  # asks about what lies ahead of ``today`` ("demnächst", "aktuelle Fristen")
    deadline: bool = False  # asks about a deadline ("Bis wann …?", "Bewerbungsfrist")
    today: date | None = None

    @property
    def about_dates(self) -> bool:
        return self.kind == "when" or self.date_from is not None or self.order is not None


def previous_questions(history: Iterable[Any]) -> list[str]:
    """User questions from a chat history: strings, ``(question, answer)`` pairs or
    ``{"role": "user", "content": ...}`` messages (the format Gradio uses)."""
    questions: list[str] = []
    for item in history or ():
        if isinstance(item, str):
            questions.append(item)
        elif isinstance(item, dict):
            if item.get("role") == "user" and isinstance(item.get("content"), str):
                questions.append(item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            questions.append(item[0])
    return questions


def cited_docs(history: Sequence[Any]) -> list[str]:
    """Document ids cited by the last answer in ``history`` (Answer objects, ``ask --json``
    dicts, or chat messages carrying them in ``metadata``)."""
    for item in reversed(list(history or ())):
        answer = item[1] if isinstance(item, (list, tuple)) and len(item) > 1 else item
        if isinstance(answer, Answer):
            return [c.doc_id for c in answer.citations]
        if isinstance(answer, dict):
            data = answer.get("metadata") if isinstance(answer.get("metadata"), dict) else answer
            citations = data.get("citations") if isinstance(data, dict) else None
            if isinstance(citations, list):
                return [c["doc_id"] for c in citations if isinstance(c, dict) and "doc_id" in c]
    return []


def understand(
    question: str, history: Sequence[Any] = (), today: date | None = None, previous_docs: Sequence[str] = ()
) -> Intent:
    today = today or date.today()
    kind = next((name for name, pattern in _KINDS if pattern.search(question)), "other")
    date_from, date_to, label = _date_range(question, today)
    ordered = _LAST_YEAR.sub(" ", question)  # "letztes Jahr" is a date range, not "the latest"
    order = None
    if _EVENT_NOUN.search(question):  # "das erste Stadion" is no question about dates
        order = "latest" if _LATEST.search(ordered) else ("earliest" if _EARLIEST.search(ordered) else None)
    upcoming = (
        order is None
        and date_from is None
        and bool(_UPCOMING.search(question))
        and (kind == "when" or any(p.search(question) for p in (_EVENT_NOUN, _PLANNED_NOUN, _WHAT_AHEAD)))
    )
    if upcoming:
        date_from, label = today, f"ab {today.day}.{today.month}.{today.year}"
    list_events = bool(_EVENTS.search(question)) and date_from is not None and order is None and not upcoming
    subject_match = _SUBJECT.match(question) if kind == "definition" else None
    list_match = _LIST.match(question)
    earlier = previous_questions(history)
    follow_up = bool(earlier) and is_follow_up(question)
    carried: tuple[str, ...] = ()
    search_text = question
    if follow_up:
        # The previous question, itself understood with what came before it: "Und wann?" after
        # "Und wer wurde dort ausgezeichnet?" still follows up on the question before that.
        previous = understand(earlier[-1], earlier[-_MAX_CHAIN:-1], today)
        own = {w.lower() for w in content_words(question)}
        topic = [w for w in content_words(earlier[-1]) if w.lower() not in GENERIC_WORDS]
        topic += [w for w in previous.carried_terms if w.lower() not in {t.lower() for t in topic}]
        carried = tuple(w for w in topic if w.lower() not in own)
        search_text = f"{question} {' '.join(carried)}".strip()
        if date_from is None:
            date_from, date_to, label = previous.date_from, previous.date_to, previous.date_label
    return Intent(
        question,
        search_text,
        kind,
        date_from,
        date_to,
        label,
        order,
        list_events,
        follow_up,
        carried,
        tuple(previous_docs) if follow_up else (),
        subject=subject_match.group("subject").strip() if subject_match else None,
        list_of=list_match.group("noun") if list_match and not list_events else None,
        upcoming=upcoming,
        deadline=bool(_DEADLINE.search(question)),
        today=today,
    )


def with_filter_dates(intent: Intent, filters: SearchFilters | None) -> Intent:
    """ "Welche Veranstaltungen gab es?" asked with a date filter and no date of its own: the
    filter's range is the question's, so it lists the events in that range (one dated sentence
    per document), as "Welche Veranstaltungen gab es 2017?" does."""
    if filters is None or (filters.date_from is None and filters.date_to is None):
        return intent
    if intent.date_from is not None or intent.order is not None or intent.upcoming:
        return intent
    if not _EVENTS.search(intent.question):
        return intent
    low, high = filters.date_from, filters.date_to
    if low and high:
        label = f"den Zeitraum {low:%d.%m.%Y} – {high:%d.%m.%Y}"
    else:
        label = f"die Zeit ab {low:%d.%m.%Y}" if low else f"die Zeit bis {high:%d.%m.%Y}"
    return replace(
        intent, date_from=low or date.min, date_to=high or date.max, date_label=label, list_events=True, list_of=None
    )


def names_topic(question: str) -> bool:
    """Whether a question about what lies ahead names a topic beyond events and dates:
    "Welche Workshops zu Wasserstoff gibt es demnächst?" does, "Welche Termine stehen als nächste
    an?" does not."""
    for word in content_words(question):
        low = word.lower()
        if low in GENERIC_WORDS or low in _AHEAD_VERBS or _UPCOMING.fullmatch(low) or _EVENT_NOUN.fullmatch(low):
            continue
        event = _EVENT_NOUN.match(low)
        if event is not None and len(low) <= event.end() + 3:  # "Veranstaltungen", "Termine"
            continue
        return True
    return False


def is_follow_up(question: str) -> bool:
    """Whether a question needs the previous one to be understood: it refers back ("Und ...",
    "dort", "dabei"), has no topic of its own ("Wann war das?"), names no noun ("Wer hat
    gewonnen?") or is a fragment ("Wie viele Teilnehmer?"). "Wo fand der Sommerempfang statt?"
    stands on its own."""
    if _FOLLOW_UP.search(question):
        return True
    topic = [w for w in content_words(question) if w.lower() not in GENERIC_WORDS]
    if not topic:
        return True
    if not any(w[0].isupper() or any(c.isdigit() for c in w) for w in topic):
        return True
    return len(re.findall(r"\w+", question)) <= 3 and not _VERB.search(question)


def content_words(text: str) -> list[str]:
    """Words of a question that carry its topic (no question words, no very short words)."""
    words = re.findall(r"[\w][\w.-]*[\w]|\w", text)
    return [w for w in words if len(w) > 2 and w.lower() not in _QUESTION_WORDS and w.lower() not in _STOP]


def _date_range(text: str, today: date) -> tuple[date | None, date | None, str | None]:
    if _THIS_YEAR.search(text):
        return date(today.year, 1, 1), date(today.year, 12, 31), str(today.year)
    if _LAST_YEAR.search(text) and not re.search(r"\b(19|20)\d\d\b", text):
        year = today.year - 1
        return date(year, 1, 1), date(year, 12, 31), str(year)
    mentions = extract_dates(text, default_year=today.year)
    if not mentions:
        return None, None, None
    start = min(m.start for m in mentions)
    end = max(m.end for m in mentions)
    return start, end, " ".join(m.text for m in mentions)


_STOP = frozenset(
    "der die das den dem des ein eine einer eines einem einen im in am an auf aus bei mit nach von "
    "vom zu zum zur für über unter um ist sind war waren hat haben wird werden wurde wurden sich "
    "es er sie ihr ihm ihnen dort dabei damals davon dazu daran darüber dafür diese dieser dieses "
    "diesem diesen nicht noch nur auch oder sowie als wie thema".split()
)
