"""Checking a generated answer against the passages it cites: every sentence's numbers, dates
and names must appear there; a sentence that fails keeps its text but loses its markers and is
flagged. Then the reply becomes an :class:`~assistant.types.Answer` with citations that point
to the best-matching sentence of each cited passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..index.reader import IndexData
from ..ingest.dates import extract_dates
from ..text.german import GermanAnalyzer
from ..text.sentences import sentence_spans, split_sentences
from ..types import Answer, Citation, Hit
from .compose import ABSTAIN_TEXT, date_label

_MARKER = re.compile(r"\s*\[(\d+)\]")
# Markers written after the full stop ("gewählt. [1] Das ...") move before it ("gewählt [1].").
_MARKERS_AFTER_END = re.compile(r"([.!?…]+[\"'“”»«’)]*)[ \t]*((?:\[\d+\][ \t]*)+)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = r"[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ]?[a-zäöüß]+)*"
_NAME = re.compile(
    # a person after a title: "Dr. Kai Pflanz", "Frau Gerdes" (the title is not part of the fact)
    r"\b(?:(?:Dr|Prof)\.|Frau|Herrn?)\s+(?:(?:Dr|Prof)\.\s+)*(?P<person>" + _WORD + r"(?:\s+" + _WORD + r")*)"
    # acronyms and words with capitals inside: "NIRO", "BMWK", "EU-Programm", "ClusterERFOLG", "BalticNet"
    r"|\b(?P<acronym>[A-ZÄÖÜ]{2,}[\w-]*|[A-ZÄÖÜ][a-zäöüß]+[A-ZÄÖÜ][\w-]*)"
    # two or more capitalised words in a row: "Theresa Gerdes", "Zeche Zollern" (after dropping
    # a leading article or adverb: "Das Treffen" is no name)
    r"|\b(?P<words>" + _WORD + r"(?:\s+" + _WORD + r")+)\b"
)
_FUNCTION_WORDS = frozenset(
    "der die das den dem des ein eine einer eines einem einen im in am an auf aus bei beim mit nach "
    "von vom zu zum zur für über unter um vor durch gegen ohne seit es er sie wir ihr ich man dies "
    "diese dieser dieses diesem diesen jede jeder jedes alle und oder aber doch so da dann danach "
    "dort hier heute damals zudem außerdem zunächst zuerst anschließend dabei dazu bereits auch "
    "laut gemäß rund etwa insgesamt zwischenzeitlich schließlich deshalb daher somit".split()
)


@dataclass(frozen=True)
class CheckedSentence:
    text: str  # without markers
    markers: tuple[int, ...]
    unsupported: tuple[str, ...]  # facts not found in the cited passages

    @property
    def supported(self) -> bool:
        return bool(self.markers) and not self.unsupported


def split_generated(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of a generated answer with the passage numbers each one cites. Sentences are
    found as in the documents ("am 20. Oktober", "Dr. Kai Pflanz", "ca. 5" end none); markers
    after a sentence's full stop belong to that sentence."""
    result: list[tuple[str, tuple[int, ...]]] = []
    normalized = _MARKERS_AFTER_END.sub(lambda m: " " + m.group(2).strip() + m.group(1), text.strip())
    for piece in split_sentences(normalized):
        markers = tuple(int(m) for m in _MARKER.findall(piece))
        clean = _MARKER.sub("", piece).strip()
        if clean:
            result.append((clean, tuple(dict.fromkeys(markers))))
        elif result and markers:  # markers standing alone after the sentence end
            last, old = result[-1]
            result[-1] = (last, tuple(dict.fromkeys(old + markers)))
    return result


def facts(sentence: str) -> list[str]:
    """Numbers, dates and names in a sentence: what must be found in the cited passages."""
    dates = extract_dates(sentence)
    found: list[str] = [m.text for m in dates]
    in_dates = [(m.offset, m.offset + len(m.text)) for m in dates]
    for match in _NUMBER.finditer(sentence):
        if not any(start <= match.start() and match.end() <= end for start, end in in_dates):
            found.append(match.group(0))
    for match in _NAME.finditer(sentence):
        if match.group("person"):
            found.append(match.group("person"))
        elif match.group("acronym"):
            found.append(match.group("acronym"))
        else:
            words = match.group("words").split()
            while words and words[0].lower() in _FUNCTION_WORDS:
                words.pop(0)
            if len(words) >= 2:  # one capitalised word is just a German noun
                found.append(" ".join(words))
    return list(dict.fromkeys(found))


def _normal(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).lower()


def _number_values(number: str) -> set[str]:
    """What a written number may mean: German "1.300" = 1300 and "2,3" = 2.3, English "2.3" =
    2.3; "2,3" is never 23 (a thousands separator groups three digits)."""
    values = {number}
    for thousands, decimal in ((".", ","), (",", ".")):
        integer, _, fraction = number.partition(decimal)
        groups = integer.split(thousands)
        if any(len(g) != 3 for g in groups[1:]) or thousands in fraction or decimal in fraction:
            continue
        try:
            value = Decimal("".join(groups) + ("." + fraction if fraction else "")).normalize()
        except InvalidOperation:
            continue
        values.add(format(value, "f"))
    return values


_PRECISION = {"year": 0, "month": 1, "day": 2}


def _mentions(haystack: str, needle: str) -> bool:
    """``needle`` in ``haystack``, not as the tail of a longer word or number ("2. Oktober" is
    not in "22. Oktober"); a suffix may follow ("NIRO" is in "NIROs")."""
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\d)", haystack) is not None


def check_sentence(sentence: str, markers: Sequence[int], passages: Sequence[str]) -> CheckedSentence:
    cited = [passages[m - 1] for m in markers if 1 <= m <= len(passages)]
    valid = tuple(m for m in markers if 1 <= m <= len(passages))
    haystack = _normal(" ".join(cited))
    numbers: set[str] = set()
    for match in _NUMBER.finditer(haystack):
        numbers |= _number_values(match.group(0))
    cited_dates = extract_dates(" ".join(cited))
    missing = []
    for fact in facts(sentence):
        if _NUMBER.fullmatch(fact):  # a number counts when its value is there: "1.300" ~ "1300"
            if _number_values(fact) & numbers:
                continue
        elif _mentions(haystack, _normal(fact)):
            continue
        # a date counts when a cited date overlaps it and is at least as precise: "Oktober 2022"
        # is in "20. Oktober 2022", but "21. Oktober 2022" is not in "ClusterERFOLG 2022"
        dates = extract_dates(fact)
        if dates and any(
            d.start <= m.end and m.start <= d.end and _PRECISION[m.precision] >= _PRECISION[d.precision]
            for d in dates
            for m in cited_dates
        ):
            continue
        missing.append(fact)
    return CheckedSentence(sentence, valid, tuple(missing))


# --- from the model's reply to an Answer ---------------------------------------------------------


def checked_answer(reply: str, hits: Sequence[Hit], index: IndexData) -> Answer:
    """Turn a generated reply into an :class:`Answer`: each sentence keeps its markers only when
    the passages it cites hold its numbers, dates and names; markers are renumbered in order of
    first mention and each points to the best-matching sentence of its passage."""
    if ABSTAIN_TEXT.rstrip(".") in reply:
        return Answer(ABSTAIN_TEXT, (), True, tuple(hits), mode="llm")
    passages = [h.chunk.text for h in hits]
    analyzer = index.lexical.analyzer
    citations: list[Citation] = []
    number_of: dict[int, int] = {}
    parts: list[str] = []
    flagged: list[str] = []
    for sentence, markers in split_generated(reply):
        checked = check_sentence(sentence, markers, passages)
        if not checked.supported:
            flagged.append(sentence)
            parts.append(sentence)
            continue
        numbers = []
        for marker in checked.markers:
            if marker not in number_of:
                hit = hits[marker - 1]
                doc = index.documents[hit.chunk.doc_id]
                start, end = _best_sentence(sentence, hit.chunk.text, sentence_spans(hit.chunk.text), analyzer)
                start, end = hit.chunk.start + start, hit.chunk.start + end
                number_of[marker] = len(citations) + 1
                citations.append(
                    Citation(
                        number_of[marker],
                        doc.id,
                        hit.chunk.id,
                        doc.title,
                        date_label(doc),
                        start,
                        end,
                        doc.text[start:end],
                        doc.page_at(start),
                    )
                )
            numbers.append(number_of[marker])
        parts.append(sentence + " " + "".join(f"[{n}]" for n in numbers))
    return Answer(
        " ".join(parts),
        tuple(citations),
        False,
        tuple(hits),
        mode="llm",
        flagged=tuple(flagged),
        confidence=1.0 if citations else 0.0,
    )


def _best_sentence(
    claim: str, passage: str, spans: Sequence[tuple[int, int]], analyzer: GermanAnalyzer
) -> tuple[int, int]:
    claim_terms = set(analyzer.analyze(claim))
    best, best_score = (0, len(passage)), -1.0
    for start, end in spans:
        terms = set(analyzer.analyze(passage[start:end]))
        score = len(claim_terms & terms) / (1 + len(terms) ** 0.5)
        if score > best_score:
            best, best_score = (start, end), score
    return best
