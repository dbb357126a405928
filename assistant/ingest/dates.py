"""Dates written in German text: "17.05.2017", "9. Mai 2022", "vom 25. bis 28. April 2017",
"26.-27. September", "Januar 2019", "2020".

Off-the-shelf parsers (dateparser's ``search_dates``) neither keep ranges together nor give
offsets reliably and take seconds to import, so the spans are found by the patterns below and
turned into :class:`datetime.date` with the standard library.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from ..types import DateMention

MONTHS: dict[str, int] = {
    "januar": 1,
    "jänner": 1,
    "jan": 1,
    "februar": 2,
    "feber": 2,
    "feb": 2,
    "märz": 3,
    "maerz": 3,
    "mär": 3,
    "mrz": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}
_MONTH = r"(?P<{name}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<{name}>(?:19|20)\d\d)"
_DASH = r"\s*(?:-|–|—|bis)\s*"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # 26.–27.09.2022 / 26.09.-27.09.2022
    (
        "num_range",
        re.compile(
            r"\b(?P<d1>\d{1,2})\.(?:(?P<m1>\d{1,2})\.)?"
            + _DASH
            + r"(?P<d2>\d{1,2})\.(?P<m2>\d{1,2})\.(?P<y2>(?:19|20)?\d\d)\b"
        ),
    ),
    # 17.05.2017
    # (not inside a longer dotted number or after "Version": "Version 2.10.12", "1.2.10.5")
    (
        "num_day",
        re.compile(
            r"(?=\d)(?<![\d.])(?<![Vv]ersion )\b(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>(?:19|20)\d\d|\d\d)\b"
            r"(?![.,]\d)"
        ),
    ),
    # 2017-05-17
    ("iso_day", re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b")),
    # vom 25. bis 28. April 2017 / 26.-27. September / 30. April bis 2. Mai 2017
    (
        "text_range",
        re.compile(
            r"\b(?P<d1>\d{1,2})\.\s*(?:"
            + _MONTH.format(name="m1")
            + r"\s*)?"
            + _DASH
            + r"(?P<d2>\d{1,2})\.\s*"
            + _MONTH.format(name="m2")
            + r"(?:\s+"
            + _YEAR.format(name="y")
            + r")?\b",
            re.IGNORECASE,
        ),
    ),
    # 9. Mai 2022 / 20. Oktober
    (
        "text_day",
        re.compile(
            r"\b(?P<d>\d{1,2})\.\s*" + _MONTH.format(name="m") + r"(?:\s+" + _YEAR.format(name="y") + r")?\b",
            re.IGNORECASE,
        ),
    ),
    # Januar 2019
    (
        "month",
        re.compile(
            r"\b(?=[jfmasond])" + _MONTH.format(name="m") + r"\s+" + _YEAR.format(name="y") + r"\b", re.IGNORECASE
        ),
    ),
    # 2020
    ("year", re.compile(r"(?=[12])(?<![\d.,/-])" + _YEAR.format(name="y") + r"(?![\d.,]\d)")),
]


def _year(raw: str | None, default: int | None) -> int | None:
    if raw is None:
        return default
    value = int(raw)
    if value < 100:
        value += 2000 if value < 70 else 1900
    return value


def _month(raw: str | None) -> int | None:
    if raw is None:
        return None
    return int(raw) if raw.isdigit() else MONTHS.get(raw.lower().rstrip("."))


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _mention(kind: str, match: re.Match[str], default_year: int | None) -> DateMention | None:
    g = match.groupdict()
    text, offset = match.group(0), match.start()
    if kind in ("num_range", "text_range"):
        year = _year(g["y2"] if kind == "num_range" else g["y"], default_year)
        m2 = _month(g["m2"])
        m1 = _month(g["m1"]) or m2
        if year is None or m1 is None or m2 is None:
            return None
        start, end = _day(year, m1, int(g["d1"])), _day(year, m2, int(g["d2"]))
        precision = "day"
    elif kind in ("num_day", "iso_day", "text_day"):
        year, month = _year(g["y"], default_year), _month(g["m"])
        if year is None or month is None:
            return None
        start = end = _day(year, month, int(g["d"]))
        precision = "day"
    elif kind == "month":
        year, month = int(g["y"]), _month(g["m"])
        if month is None:
            return None
        start, end = month_span(year, month)
        precision = "month"
    else:
        year = int(g["y"])
        start, end = date(year, 1, 1), date(year, 12, 31)
        precision = "year"
    if start is None or end is None or end < start:
        return None
    return DateMention(start=start, end=end, text=text, offset=offset, precision=precision)


def extract_dates(text: str, default_year: int | None = None) -> list[DateMention]:
    """All date mentions in ``text`` in order of appearance, without overlapping spans.

    A day or range written without a year ("20. Oktober") takes the year of the closest full
    date before it, else ``default_year``; without either it is left out.
    """
    taken = bytearray(len(text))  # 1 where an earlier (more specific) pattern matched
    found: list[tuple[str, re.Match[str]]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if taken.find(1, start, end) >= 0:
                continue
            taken[start:end] = b"\x01" * (end - start)
            found.append((kind, match))
    found.sort(key=lambda item: item[1].start())
    mentions: list[DateMention] = []
    context_year = default_year
    for kind, match in found:
        mention = _mention(kind, match, context_year)
        if mention is None:
            continue
        if mention.precision != "year":  # a bare year ("seit 2014") is no full date
            context_year = mention.end.year
        mentions.append(mention)
    return mentions
