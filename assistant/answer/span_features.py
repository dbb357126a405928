"""Features of candidate spans for the fitted span ranker (:mod:`.ranker`): one row of
:data:`SPAN_FEATURES` per span, each listed with the reason it is there; answer-type crosses let
a linear model prefer other forms per type."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .question import Question
from .span_classes import CLASS_FEATURES, class_features
from .spans import SOURCE_CLAUSE, SOURCE_DATE, SOURCE_NAME, SOURCE_NUMBER, SOURCE_PLACE, Span, TokenView

_TYPE_GROUPS = ("date", "number", "person", "place", "reason", "manner", "open")
_CROSSED = (
    "log_words",
    "has_date",
    "has_number",
    "cap_share",
    "place_phrase",
    "reason_phrase",
    "clause",
    "q_share",
    "prev_q",
    "next_q",
    "near_q",
    "first_prep",
    "exact_number",
    "exact_date",
    "name_span",
    "head_near",
)
SENTENCE_CONTEXT = ("sentence_score", "sentence_rank", "sentence_margin", "sentence_prob")

SPAN_FEATURES: tuple[tuple[str, str], ...] = (
    ("log_words", "log number of words: most answers are short"),
    ("len_1", "one word"),
    ("len_2", "two words"),
    ("len_3_4", "three or four words"),
    ("len_5_8", "five to eight words"),
    ("len_9_15", "nine to fifteen words (clauses)"),
    ("len_16", "more than fifteen words"),
    ("sentence_share", "share of the sentence's words it takes: the whole sentence is rarely the short answer"),
    ("q_share", "share of its words that are question words: an answer does not repeat the question"),
    ("q_any", "it holds a question word"),
    ("q_first", "it starts with a question word"),
    ("q_last", "it ends with a question word"),
    (
        "q_outside",
        "share of the question's words found in the sentence outside it: "
        "the answer stands next to the question's words",
    ),
    ("dist_left", "log words from the nearest question word before it"),
    ("none_left", "no question word before it"),
    ("dist_right", "log words to the nearest question word after it"),
    ("none_right", "no question word after it"),
    ("near_q", "log distance to the nearest question word on either side"),
    ("at_sentence_start", "it starts the sentence"),
    ("at_sentence_end", "it ends the sentence"),
    ("punct_before", "clause punctuation right before it: a clean left boundary"),
    ("punct_after", "clause punctuation right after it: a clean right boundary"),
    ("prev_q", 'the word before it is a question word ("die Stadt | Rottweil")'),
    ("prev_art", "the word before it is an article: it cuts a noun phrase"),
    ("prev_prep", "the word before it is a preposition: it leaves the preposition out"),
    ("prev_aux", "the word before it is an auxiliary (wurde, ist): it starts after the verb"),
    ("prev_cap", "the word before it is capitalised: it may cut a name"),
    ("prev_lower", "the word before it is a lower-case content word"),
    ("next_q", "the word after it is a question word"),
    ("next_conj", "a conjunction follows: a clean right boundary"),
    ("next_aux", "an auxiliary follows (X wurde ...): it is the subject"),
    ("next_cap", "a capitalised word follows without punctuation: it may cut a name"),
    ("next_num", "a number follows: it may cut an amount"),
    ("next_unit", "a unit follows: it cuts an amount from its unit"),
    ("next_lower", "a lower-case content word follows"),
    ("first_cap", "it starts with a capitalised word"),
    ("first_num", "it starts with a number"),
    ("first_prep", 'it starts with a preposition (places, times: "an der RWTH", "vor Fahrtantritt")'),
    ("first_art", "it starts with an article (a noun phrase)"),
    ("first_reason", "it starts with a causal word (weil, um, durch)"),
    ("first_stop", "it starts with another stop word"),
    ("first_lower", "it starts with a lower-case content word (adjective, verb)"),
    ("first_aux", "it starts with an auxiliary"),
    ("last_cap", "it ends with a capitalised word (nouns, names)"),
    ("last_num", "it ends with a number"),
    ("last_unit", "it ends with a unit"),
    ("last_lower", "it ends with a lower-case content word (adjective, participle)"),
    ("last_stop", "it ends with a stop word"),
    ("last_aux", "it ends with an auxiliary"),
    ("inner_punct", "log count of clause punctuation inside: lists, appositions, several clauses"),
    ("bracket_unbalanced", "it opens a bracket or quote it does not close (or the reverse)"),
    ("cap_share", "share of capitalised words (names, nouns)"),
    ("num_share", "share of numbers"),
    ("stop_share", "share of stop words"),
    ("aux_inside", "it holds an auxiliary: a clause rather than a phrase"),
    ("novel", "log count of its content words the question does not contain"),
    ("has_date", "it holds a date the question does not name"),
    ("exact_date", "it is exactly such a date"),
    ("has_year", "it holds a four-digit year"),
    ("has_number", "it holds a number outside dates"),
    ("exact_number", "it is a number with its unit"),
    ("name_span", "it is a run of capitalised words (a name)"),
    ("place_phrase", "preposition (+ article) + capitalised run"),
    ("reason_phrase", "it starts with a causal word"),
    ("clause", "it is a whole clause between punctuation"),
    ("full_sentence", "it is the whole sentence"),
    ("after_last_q", "it starts right after the sentence's last question word"),
    ("before_first_q", "it ends right before the sentence's first question word"),
    ("type_match", "it has the form the question's answer type needs"),
    ("relative_position", "where in the sentence it starts"),
    ("head_before", "the noun the question asks about (Wie viele *Inseln*) stands within 2 words before it"),
    ("head_after", 'that noun stands within 2 words after it ("2878 Inseln")'),
    ("head_inside", "it contains that noun"),
    ("head_near", "head_before or head_after"),
    ("prev_approx", "an approximation word (rund, etwa, über) stands before it: the amount includes it"),
    ("first_approx", "it starts with an approximation word"),
    ("cuts_range", 'it ends on a number or date and "bis/und" + another number follows: it cuts a range'),
    ("starts_range", 'it starts right after "X bis/und": the second half of a range'),
    ("sentence_dates", "log number of new dates in its sentence: several dates make each less certain"),
    ("sentence_numbers", "log number of number words in its sentence"),
    ("same_type_in_sentence", "log number of other candidates of the type the question asks for in the sentence"),
    ("list_like", "commas and a final und/oder/sowie inside: an enumeration (Oper, Operette und Ballett)"),
    ("conj_inside", "it holds a conjunction (und, oder, weil ...)"),
    ("sentence_score", "the sentence model's score of its sentence"),
    ("sentence_rank", "rank of its sentence among the sentences searched (0 best)"),
    ("sentence_margin", "its sentence's score minus the best sentence's score"),
    ("sentence_prob", "its sentence's softmax share over the pool's sentence scores"),
    ("sentence_cov", "local coverage of its sentence"),
    *((f"type_{g}", f"expected answer type {g} (constant per question)") for g in _TYPE_GROUPS),
    *(
        (f"{g}_x_{c}", f"{c} when the expected type is {g}: lets a linear model prefer other forms per type")
        for g in _TYPE_GROUPS
        for c in _CROSSED
    ),
    *CLASS_FEATURES,
)
SPAN_FEATURE_NAMES = tuple(name for name, _ in SPAN_FEATURES)
_SPAN_INDEX = {name: i for i, name in enumerate(SPAN_FEATURE_NAMES)}
_CLASS_COLUMNS = slice(_SPAN_INDEX[CLASS_FEATURES[0][0]], _SPAN_INDEX[CLASS_FEATURES[-1][0]] + 1)


def _type_group(answer_type_: str) -> str:
    return answer_type_ if answer_type_ in _TYPE_GROUPS else "open"


def sentence_context(scores: np.ndarray, index: int, rank: int) -> dict[str, float]:
    """The span features that describe its sentence's standing in the pool (see SENTENCE_CONTEXT)."""
    shifted = np.exp(scores - scores.max())
    return {
        "sentence_score": float(scores[index]),
        "sentence_rank": float(rank),
        "sentence_margin": float(scores[index] - scores.max()),
        "sentence_prob": float(shifted[index] / shifted.sum()),
    }


def set_sentence_context(features: np.ndarray, context: dict[str, float]) -> None:
    for name in SENTENCE_CONTEXT:
        features[:, _SPAN_INDEX[name]] = context[name]


def span_features(
    question: Question,
    view: TokenView,
    spans: Sequence[Span],
    sentence_cov: float,
    context: dict[str, float] | None = None,
) -> np.ndarray:
    """One row of :data:`SPAN_FEATURES` per span of one sentence (float32), vectorized over the
    spans; ``context`` from :func:`sentence_context` (zeros when None, set later with
    :func:`set_sentence_context`)."""
    m = len(spans)
    names = SPAN_FEATURE_NAMES
    if not m:
        return np.zeros((0, len(names)), dtype=np.float32)
    f = view.flags
    n = len(view.tokens)
    a = np.fromiter((s.first for s in spans), dtype=np.int64, count=m)
    b = np.fromiter((s.last for s in spans), dtype=np.int64, count=m)
    bits = np.fromiter((s.sources for s in spans), dtype=np.int64, count=m)
    length = (b - a + 1).astype(np.float64)

    def count(mask: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0], np.cumsum(mask)])
        return (cum[b + 1] - cum[a]).astype(np.float64)

    def at(mask: np.ndarray, index: np.ndarray, default: bool = False) -> np.ndarray:
        ok = (index >= 0) & (index < n)
        out = np.full(m, default, dtype=bool)
        out[ok] = mask[index[ok]]
        return out

    q = f["q"]
    q_pos = np.flatnonzero(q)
    left_q = np.searchsorted(q_pos, a) - 1  # last question word before a
    right_q = np.searchsorted(q_pos, b, side="right")  # first after b
    big = float(n + 1)
    dist_left = np.where(left_q >= 0, a - q_pos[np.clip(left_q, 0, None)] if q_pos.size else big, big)
    dist_right = np.where(
        right_q < q_pos.size, q_pos[np.clip(right_q, None, max(q_pos.size - 1, 0))] - b if q_pos.size else big, big
    )
    n_terms = max(len(question.terms), 1)
    outside = np.zeros(m)
    if q_pos.size:
        term_ids = view.term[q_pos]
        inside = (q_pos[None, :] >= a[:, None]) & (q_pos[None, :] <= b[:, None])
        for k in np.unique(term_ids):
            outside += ((term_ids[None, :] == k) & ~inside).any(axis=1)
    outside /= n_terms
    prev, nxt = a - 1, b + 1
    opens, closes = count(f["open"]), count(f["close"])
    inner_punct = count(f["punct_after"]) - f["punct_after"][b]
    date_exact = np.zeros(m, dtype=bool)
    for first, last, _ in view.dates:
        date_exact |= (a == first) & (b == last)
    group = _type_group(question.answer_type)
    cols: dict[str, np.ndarray] = {
        "log_words": np.log1p(length),
        "len_1": length == 1,
        "len_2": length == 2,
        "len_3_4": (length >= 3) & (length <= 4),
        "len_5_8": (length >= 5) & (length <= 8),
        "len_9_15": (length >= 9) & (length <= 15),
        "len_16": length >= 16,
        "sentence_share": length / n,
        "q_share": count(q) / length,
        "q_any": count(q) > 0,
        "q_first": q[a],
        "q_last": q[b],
        "q_outside": outside,
        "dist_left": np.log1p(dist_left),
        "none_left": dist_left >= big,
        "dist_right": np.log1p(dist_right),
        "none_right": dist_right >= big,
        "near_q": np.log1p(np.minimum(dist_left, dist_right)),
        "at_sentence_start": a == 0,
        "at_sentence_end": b == n - 1,
        "punct_before": f["punct_before"][a],
        "punct_after": f["punct_after"][b],
        "prev_q": at(q, prev),
        "prev_art": at(f["art"], prev),
        "prev_prep": at(f["prep"], prev),
        "prev_aux": at(f["aux"], prev),
        "prev_cap": at(f["cap"] & ~f["stop"], prev) & ~f["punct_before"][a],
        "prev_lower": at(f["lower"], prev),
        "next_q": at(q, nxt),
        "next_conj": at(f["conj"], nxt),
        "next_aux": at(f["aux"], nxt),
        "next_cap": at(f["cap"] & ~f["stop"], nxt) & ~f["punct_after"][b],
        "next_num": at(f["num"], nxt),
        "next_unit": at(f["unit"], nxt),
        "next_lower": at(f["lower"], nxt),
        "first_cap": f["cap"][a] & ~f["stop"][a],
        "first_num": f["num"][a],
        "first_prep": f["prep"][a],
        "first_art": f["art"][a],
        "first_reason": f["reason"][a],
        "first_stop": f["stop"][a] & ~f["prep"][a] & ~f["art"][a],
        "first_lower": f["lower"][a],
        "first_aux": f["aux"][a],
        "last_cap": f["cap"][b] & ~f["stop"][b],
        "last_num": f["num"][b],
        "last_unit": f["unit"][b],
        "last_lower": f["lower"][b],
        "last_stop": f["stop"][b],
        "last_aux": f["aux"][b],
        "inner_punct": np.log1p(np.maximum(inner_punct, 0)),
        "bracket_unbalanced": opens != closes,
        "cap_share": count(f["cap"] & ~f["stop"]) / length,
        "num_share": count(f["num"]) / length,
        "stop_share": count(f["stop"]) / length,
        "aux_inside": count(f["aux"]) > 0,
        "novel": np.log1p(count(~q & ~f["stop"])),
        "has_date": count(f["date"]) > 0,
        "exact_date": date_exact | ((bits & SOURCE_DATE) > 0),
        "has_year": count(f["year"]) > 0,
        "has_number": count(f["num"] & ~f["date"]) > 0,
        "exact_number": (bits & SOURCE_NUMBER) > 0,
        "name_span": (bits & SOURCE_NAME) > 0,
        "place_phrase": (bits & SOURCE_PLACE) > 0,
        "reason_phrase": f["reason"][a],
        "clause": (bits & SOURCE_CLAUSE) > 0,
        "full_sentence": (a == 0) & (b == n - 1),
        "after_last_q": a == (q_pos[-1] + 1 if q_pos.size else -1),
        "before_first_q": b == (q_pos[0] - 1 if q_pos.size else -2),
        "relative_position": a / n,
        "sentence_cov": np.full(m, sentence_cov),
    }
    head = f["head"]
    cols["head_before"] = at(head, a - 1) | at(head, a - 2)
    cols["head_after"] = at(head, b + 1) | at(head, b + 2)
    cols["head_inside"] = count(head) > 0
    cols["head_near"] = cols["head_before"] | cols["head_after"]
    numeric = f["num"] | f["date"]
    cols["prev_approx"] = at(f["approx"], a - 1)
    cols["first_approx"] = f["approx"][a]
    cols["cuts_range"] = numeric[b] & at(f["range"], b + 1) & at(numeric, b + 2)
    cols["starts_range"] = numeric[a] & at(f["range"], a - 1) & at(numeric, a - 2)
    n_dates, n_numbers = len(view.dates), int((f["num"] & ~f["date"]).sum())
    cols["sentence_dates"] = np.full(m, math.log1p(n_dates))
    cols["sentence_numbers"] = np.full(m, math.log1p(n_numbers))
    typed = {
        "date": n_dates + int(f["year"].sum()),
        "number": n_numbers,
        "person": int((bits & SOURCE_NAME > 0).sum()),
        "place": int((bits & SOURCE_PLACE > 0).sum()),
    }
    cols["same_type_in_sentence"] = np.full(m, math.log1p(typed.get(group, 0)))
    conj_inside = count(f["conj"])
    cols["list_like"] = (inner_punct >= 1) & (conj_inside >= 1) & ~f["conj"][b]
    cols["conj_inside"] = conj_inside > 0
    for name in SENTENCE_CONTEXT:
        cols[name] = np.full(m, (context or {}).get(name, 0.0))
    cols["type_match"] = {
        "date": cols["has_date"] | cols["has_year"],
        "number": cols["has_number"],
        "person": cols["name_span"] | (cols["cap_share"] >= 0.5),
        "place": cols["place_phrase"] | cols["name_span"],
        "reason": cols["reason_phrase"] | cols["clause"],
        "manner": cols["clause"] | (length >= 3),
    }.get(group, cols["cap_share"] > 0)
    out = np.zeros((m, len(names)), dtype=np.float32)
    for name, column in cols.items():
        out[:, _SPAN_INDEX[name]] = column
    out[:, _SPAN_INDEX[f"type_{group}"]] = 1.0
    for c in _CROSSED:
        out[:, _SPAN_INDEX[f"{group}_x_{c}"]] = cols[c]
    out[:, _CLASS_COLUMNS] = class_features(view.classes, a, b, question.answer_type)
    return out
