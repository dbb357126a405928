"""Checking a generated answer against the passages it cites: every sentence's numbers, dates
and names must appear there; a sentence that fails keeps its text but loses its markers and is
flagged. Sentences in a passage that read as instructions to a model (:mod:`.injection`) are no
evidence, and a generated sentence that repeats one, or one that does not answer the question,
is left out. Then the reply becomes an :class:`~assistant.types.Answer` with citations that
point to the best-matching sentence of each cited passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ..index.reader import IndexData
from ..ingest.dates import extract_dates
from ..search.query import Intent
from ..text.german import GermanAnalyzer
from ..text.sentences import sentence_spans, split_sentences
from ..types import Answer, Citation, Hit
from .candidates import covers, has_type
from .compose import ABSTAIN_TEXT, date_label
from .injection import instruction_spans
from .question import Question, analyze_question

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
    # closer to a sentence of the passages that reads as an instruction to a model than to any
    # other: the model followed or repeated an injected instruction
    instruction: bool = False
    # the sentence of the cited passages closest to it, with the one before and after it
    # (instructions aside): what it is about when it says little itself ("Mit einer Zerreißprobe.")
    evidence: str = ""

    @property
    def supported(self) -> bool:
        return bool(self.markers) and not self.unsupported and not self.instruction


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


@dataclass(frozen=True)
class _Passage:
    text: str  # the text without its instructions
    sentences: tuple[str, ...]  # its sentences in order, instructions aside
    instructions: tuple[str, ...]  # its sentences that read as instructions to a model


def _split(passage: str) -> _Passage:
    spans = instruction_spans(passage)
    if not spans:
        return _Passage(passage, tuple(passage[a:b] for a, b in sentence_spans(passage)), ())
    kept, end = [], 0
    for start, stop in spans:
        kept.append(passage[end:start])
        end = stop
    kept.append(passage[end:])
    cut = set(spans)
    return _Passage(
        " ".join(kept),
        tuple(passage[a:b] for a, b in sentence_spans(passage) if (a, b) not in cut),
        tuple(passage[a:b] for a, b in spans),
    )


@lru_cache(maxsize=1)
def _plain_analyzer() -> GermanAnalyzer:
    return GermanAnalyzer()


def _shared(terms: set[str], sentences: Sequence[str], analyzer: GermanAnalyzer) -> int:
    """The most terms of ``terms`` that one of ``sentences`` holds."""
    return max((len(terms & set(analyzer.analyze(s))) for s in sentences), default=0)


def _evidence(terms: set[str], passages: Sequence[_Passage], analyzer: GermanAnalyzer) -> str:
    """The sentence of ``passages`` sharing the most terms with ``terms`` (the first on a tie),
    with its neighbours; "" when none shares one."""
    best, best_shared = "", 0
    for passage in passages:
        sentences = passage.sentences
        for k, sentence in enumerate(sentences):
            shared = len(terms & set(analyzer.analyze(sentence)))
            if shared > best_shared:
                best, best_shared = " ".join(sentences[max(0, k - 1) : k + 2]), shared
    return best


def check_sentence(
    sentence: str, markers: Sequence[int], passages: Sequence[str], analyzer: GermanAnalyzer | None = None
) -> CheckedSentence:
    """Whether the passages ``markers`` cite hold the numbers, dates and names of ``sentence``,
    not counting their sentences that read as instructions to a model; and whether, among all
    ``passages`` (those the model was given), the sentence is closest to such an instruction."""
    analyzer = analyzer or _plain_analyzer()
    split = [_split(p) for p in passages]
    valid = tuple(m for m in markers if 1 <= m <= len(passages))
    cited = [split[m - 1].text for m in valid]
    terms = set(analyzer.analyze(sentence))
    from_instruction = _shared(terms, [s for p in split for s in p.instructions], analyzer)
    from_text = _shared(terms, [s for p in split for s in p.sentences], analyzer)
    evidence = _evidence(terms, [split[m - 1] for m in valid], analyzer)
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
    return CheckedSentence(sentence, valid, tuple(missing), from_instruction > from_text, evidence)


# --- from the model's reply to an Answer ---------------------------------------------------------


# Why sentences of a reply were left out, for the answer's note.
REPEATS_INSTRUCTION = "gab eine Anweisung aus einem Dokument wieder"
OFF_QUESTION = "ging nicht auf die Frage ein"
NOT_SUPPORTED = "war durch die Dokumente nicht belegt"
_TYPED_KINDS = ("when", "number", "where", "who", "why")


def checked_answer(reply: str, hits: Sequence[Hit], index: IndexData, intent: Intent | None = None) -> Answer:
    """Turn a generated reply into an :class:`Answer`: each sentence keeps its markers only when
    the passages it cites hold its numbers, dates and names; markers are renumbered in order of
    first mention and each points to the best-matching sentence of its passage.

    Left out (named in the answer's note, not shown): a sentence that repeats an instruction
    found in a passage, and, with ``intent``, one that does not answer the question: neither it
    nor the cited sentences around the one closest to it share a word with the question, and it
    holds no fact of the kind asked for; unless it adds to a sentence that answers, citing the
    same passage (one without instructions)."""
    if ABSTAIN_TEXT.rstrip(".") in reply:
        return Answer(ABSTAIN_TEXT, (), True, tuple(hits), mode="llm")
    passages = [h.chunk.text for h in hits]
    analyzer = index.lexical.analyzer
    checks = [check_sentence(sentence, markers, passages, analyzer) for sentence, markers in split_generated(reply)]
    question = _question(intent, index) if intent is not None else None
    answers = [intent is None or question is None or _answers(c, question, intent, analyzer) for c in checks]
    tainted = {n for n, text in enumerate(passages, start=1) if instruction_spans(text)}
    answering = {m for c, ok in zip(checks, answers, strict=True) if ok and c.supported for m in c.markers} - tainted
    citations: list[Citation] = []
    number_of: dict[int, int] = {}
    parts: list[str] = []
    flagged: list[str] = []
    left_out: list[str] = []
    for checked, ok in zip(checks, answers, strict=True):
        sentence = checked.text
        if checked.instruction:
            left_out.append(REPEATS_INSTRUCTION)
            continue
        if not checked.supported:
            flagged.append(sentence)
            parts.append(sentence)
            continue
        if not ok and not answering & set(checked.markers):
            left_out.append(OFF_QUESTION)
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
                        doc.url,
                    )
                )
            numbers.append(number_of[marker])
        parts.append(sentence + " " + "".join(f"[{n}]" for n in numbers))
    reasons = list(dict.fromkeys(left_out))
    note = None
    if reasons:
        note = "Hinweis: " + " ".join(
            f"Ein Teil der Antwort des Sprachmodells {r} und wurde weggelassen." for r in reasons
        )
    return Answer(
        " ".join(parts),
        tuple(citations),
        False,
        tuple(hits),
        mode="llm",
        note=note,
        flagged=tuple(flagged),
        confidence=1.0 if citations else 0.0,
    )


def fallback_note(checked: Answer) -> str:
    """The note on the extractive answer that replaces a generated one of which nothing stood."""
    reasons = [r for r in (REPEATS_INSTRUCTION, OFF_QUESTION) if checked.note and r in checked.note]
    return (
        f"Hinweis: Die Antwort des Sprachmodells {' und '.join(reasons or [NOT_SUPPORTED])}; "
        "hier stattdessen die passenden Stellen."
    )


def _question(intent: Intent, index: IndexData) -> Question:
    """The question's content words; a follow-up's carried words count too."""
    text = intent.question
    if intent.follow_up and intent.carried_terms:
        text = f"{text} {' '.join(intent.carried_terms)}"
    return analyze_question(text, index.lexical, intent.kind)


def _answers(checked: CheckedSentence, question: Question, intent: Intent, analyzer: GermanAnalyzer) -> bool:
    """Whether a sentence (or the cited sentences closest to it) shares a word with the question,
    or holds the kind of fact asked for (a date for "Wann", a number for "Wie viele" ...)."""
    if not question.terms:
        return True  # nothing to compare with
    for text in (checked.text, checked.evidence):
        terms = set(analyzer.analyze(text))
        if any(covers(terms, t.stem, t.parts) or any(a in terms for a in t.alternatives) for t in question.terms):
            return True
    return (intent.kind in _TYPED_KINDS or intent.about_dates) and has_type(intent, checked.text)


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
