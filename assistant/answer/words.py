"""Word classes and patterns of German text that the answer features use: articles,
prepositions, auxiliaries, number words and units, patterns of reasons, definitions, places,
names."""

from __future__ import annotations

import re
from functools import lru_cache

from ..ingest.dates import extract_dates
from ..types import DateMention

ARTICLES = frozenset("der die das den dem des ein eine einer eines einem einen".split())
PREPOSITIONS = frozenset(
    "in im ins an am ans auf aus bei beim mit nach von vom zu zum zur für über unter vor hinter "
    "neben zwischen durch gegen ohne um seit bis ab während wegen trotz innerhalb außerhalb "
    "gegenüber entlang laut statt anstatt infolge mittels aufgrund dank per pro".split()
)
CONJUNCTIONS = frozenset(
    "und oder sowie aber sondern denn weil dass daß da ob wenn als wobei wodurch womit sodass "
    "bzw beziehungsweise jedoch doch nachdem bevor obwohl damit indem wie".split()
)
AUXILIARIES = frozenset(
    "ist sind war waren wird werden wurde wurden worden hat haben hatte hatten kann können "
    "konnte konnten soll sollte sollten muss musste mussten gilt galt gibt gab sei seien wäre "
    "wären lässt ließ liegt lag".split()
)
NUMBER_WORDS = frozenset(
    "zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig dreißig vierzig fünfzig "
    "hundert tausend million millionen milliarde milliarden dutzend hälfte drittel viertel "
    "doppelt dreimal zweimal".split()
)
UNITS = frozenset(
    "% prozent euro € dollar $ mark franken pfund km m cm mm meter kilometer kg g gramm tonnen "
    "t liter jahre jahren jahr monate monaten tage tagen stunden minuten sekunden millionen "
    "milliarden mio mrd tausend einwohner grad ° km² quadratkilometer hektar ha menschen "
    "mitglieder personen stück mal einwohnern".split()
)
APPROXIMATORS = frozenset(
    "rund etwa ca circa über knapp fast mehr weniger bis zu nahezu annähernd ungefähr mindestens "
    "höchstens insgesamt".split()
)
RANGE_WORDS = frozenset("bis und oder sowie – -".split())
REASON_OPENERS = frozenset("weil da denn um damit aufgrund wegen dadurch durch deshalb daher dank indem".split())
REASON = re.compile(
    r"\b(weil|denn|da (sie|er|es|die|der|das|diese)|um\b.{1,80}\bzu|damit|deshalb|daher|deswegen|"
    r"aufgrund|wegen|dadurch|so dass|sodass|führte|verursacht|ursache|grund)\b",
    re.I,
)
DEFINITION = re.compile(
    r"\b(ist|sind|war|waren) (ein|eine|einer|der|die|das)\b|\bbezeichnet\b|\bversteht man\b|"
    r"\bgilt als\b|\bbedeutet\b|\bnennt man\b",
    re.I,
)
PLACE = re.compile(
    r"\b(in|an der|am|im|bei|nach|aus|auf|nahe|südlich|nördlich|östlich|westlich)\s+"
    r"(der |dem |den )?[A-ZÄÖÜ]"
)
NAME_SEQ = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-ZÄÖÜ][\wäöüß.-]+(?:\s+(?:von |van |de |der )?[A-ZÄÖÜ][\wäöüß-]+)+")
ACRONYM = re.compile(r"\b[A-ZÄÖÜ]{2,}\b")
DIGIT = re.compile(r"\d")
# Words of procedures: how to apply, register, take part (Antrag, anmelden, Schritt, empfohlen ...).
PROCEDURE = re.compile(
    r"\b(antr[aä]g\w*|beantrag\w*|anmeld\w*|angemeldet|melden|bewerb\w*|einreich\w*|eingereicht|schritt\w*|"
    r"empfohlen|empfiehlt|voraussetzung\w*|aufnahme\w*|teilnahme\w*|teilnehmen|registrier\w*|kontakt\w*|"
    r"formular\w*|ausfüll\w*|ablauf|verfahren\w*|zunächst|anschließend|danach)\b",
    re.I,
)
CONTINUES = re.compile(
    r"^(sie|er|es|dies|diese[rsmn]?|dabei|damit|dort|daher|deshalb|deswegen|dafür|darin|darauf|dazu|"
    r"zwar|außerdem|zudem|allerdings|jedoch|hier|hierbei|so|auch|ihr|ihre|sein|seine|der|die|das|den|dem)\b",
    re.I,
)
HEADING = re.compile(r"^\s*=+.*=+\s*$")
TOKEN = re.compile(r"\d+(?:[.,:]\d+)*(?:[^\W\d_]+)?(?:-\w+)*|\w+(?:[-'’]\w+)*|[%€$°²]|[^\w\s]")
WORD_CHAR = re.compile(r"\w|[%€$°²]")
BOUNDARY_PUNCT = frozenset(",;:()[]–—-\"„“”»«'‚‘’/")
# Abbreviations whose period belongs to the word: a short answer ending in one keeps it
# ("2,3 Mrd." not "2,3 Mrd"); lower case, without the period.
ABBREVIATIONS = frozenset(
    "mio mrd tsd nr ca bzw dr prof st str jh jhd abs bd usw etc ggf inkl zzgl std min sek tel co "
    "gmbh ev e.v v.a u.a z.b d.h evtl vgl".split()
)
OPENING = frozenset("([„»‚")
CLOSING = frozenset(")]“”«‘")


@lru_cache(maxsize=20_000)
def dates_in(text: str) -> tuple[DateMention, ...]:
    """extract_dates(text), cached: the sentence and the span stage look at the same sentences."""
    return tuple(extract_dates(text))


def procedure_cues(text: str) -> int:
    """How many different words of procedures (:data:`PROCEDURE`) ``text`` holds."""
    return len({m.group(0).lower() for m in PROCEDURE.finditer(text)})
