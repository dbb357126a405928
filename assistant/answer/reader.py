"""An extractive question-answering model (a "reader"): the answer span inside a passage.

The default model is ``deepset/gelectra-base-germanquad`` (German ELECTRA fine-tuned on
GermanQuAD, MIT licence), found like the embedding model by :mod:`assistant.hub`: a local
folder, the Hugging Face cache, the hub after a one-second probe.

transformers 5 removed the ``pipeline("question-answering")`` this follows; the steps are those
of its 4.x implementation with its defaults: the question first, the passage cut into windows
of at most 384 tokens overlapping by 128, start and end logits turned into probabilities per
window over the passage tokens and ``[CLS]``, a span's score the product of its start and end
probability (so 0..1), spans of at most 15 tokens, widened to whole words. Different from it:
all passages of a question go through the model together, the best spans over all passages
come back, a span found in two overlapping windows keeps its higher score (4.x added them up),
and spans are stripped of surrounding whitespace and punctuation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import hub
from ..config import is_disabled
from ..errors import ReaderUnavailableError

MAX_SEQ_LEN = 384
DOC_STRIDE = 128
MAX_QUESTION_TOKENS = 64
MAX_ANSWER_TOKENS = 15

# Trimmed from both ends of a span (whitespace too); "%", "€", "§" and the like stay.
_PUNCTUATION = frozenset(".,;:!?…·'\"`´„“”‚‘’«»‹›()[]{}<>-–—_/\\|*")
_QUOTES = frozenset("\"'„“”‚‘’«»‹›")
_CLOSING = {")": "(", "]": "[", "}": "{", ">": "<"}
_OPENING = {v: k for k, v in _CLOSING.items()}


@dataclass(frozen=True)
class ReaderSpan:
    context: int  # index into `contexts`
    start: int  # character offsets into contexts[context]
    end: int
    score: float  # the model's score, 0..1


class Reader:
    """Finds answer spans for a question in passages; safe to share between threads."""

    def __init__(self, model: Any, tokenizer: Any, name: str, device: str = "cpu", batch_size: int = 16) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules and fast tokenizers are not safe across threads
        limits = [MAX_SEQ_LEN, getattr(tokenizer, "model_max_length", MAX_SEQ_LEN)]
        positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if isinstance(positions, int):
            limits.append(positions)
        self.max_seq_len = int(min(limits))

    def read(self, question: str, contexts: Sequence[str], top_k: int = 3) -> list[ReaderSpan]:
        """The ``top_k`` best answer spans over all ``contexts``, best first. Every span is
        non-empty, lies inside its context and has no whitespace or punctuation around it;
        blank contexts are skipped (their indices still count)."""
        if top_k < 1:
            raise ValueError(f"top_k={top_k} muss mindestens 1 sein")
        question = question.strip()
        chosen = [i for i, text in enumerate(contexts) if text.strip()]
        if not question or not chosen:
            return []
        with self._lock:
            encoded = self._encode(question, [contexts[i] for i in chosen])
            starts, ends = self._logits(encoded)
        best: dict[tuple[int, int, int], float] = {}
        samples = encoded["overflow_to_sample_mapping"]
        for feature in range(len(samples)):
            index = chosen[int(samples[feature])]
            context = contexts[index]
            encoding = encoded.encodings[feature]
            allowed = np.array([sid == 1 for sid in encoding.sequence_ids], dtype=bool)
            for s, e, score in _best_token_spans(starts[feature], ends[feature], allowed, top_k):
                start, end = _char_span(encoding, s, e)
                start, end = trim(context, start, end)
                if start >= end:
                    continue
                key = (index, start, end)
                best[key] = max(score, best.get(key, 0.0))
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [ReaderSpan(c, s, e, score) for (c, s, e), score in ranked[:top_k]]

    def _encode(self, question: str, contexts: list[str]) -> Any:
        tokenizer = self._tokenizer
        pieces = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = pieces["offset_mapping"]
        if len(offsets) > MAX_QUESTION_TOKENS:
            question = question[: offsets[MAX_QUESTION_TOKENS - 1][1]]
        room = self.max_seq_len - min(len(offsets), MAX_QUESTION_TOKENS) - 4  # passage tokens per window
        return tokenizer(
            [question] * len(contexts),
            contexts,
            padding=True,
            truncation="only_second",
            max_length=self.max_seq_len,
            stride=max(0, min(DOC_STRIDE, self.max_seq_len // 2, room - 1)),
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_token_type_ids=True,
        )

    def _logits(self, encoded: Any) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of every window, ``(windows, tokens)`` each, with padding,
        question and separator tokens set to -10000 (``[CLS]`` stays, as in the pipeline)."""
        import torch

        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in encoded]
        names = [n for n in names if n in self._tokenizer.model_input_names or n == "input_ids"]
        inputs = {n: torch.tensor(encoded[n], dtype=torch.long) for n in names}
        starts, ends = [], []
        with torch.inference_mode():
            for first in range(0, len(inputs["input_ids"]), self.batch_size):
                batch = {n: t[first : first + self.batch_size].to(self.device) for n, t in inputs.items()}
                output = self._model(**batch)
                starts.append(output.start_logits.float().cpu().numpy())
                ends.append(output.end_logits.float().cpu().numpy())
        start, end = np.concatenate(starts), np.concatenate(ends)
        cls = self._tokenizer.cls_token_id
        keep = np.array(
            [[sid == 1 or t == cls for sid, t in zip(e.sequence_ids, e.ids, strict=True)] for e in encoded.encodings],
            dtype=bool,
        )
        keep &= np.asarray(encoded["attention_mask"], dtype=bool)
        return np.where(keep, start, -10000.0), np.where(keep, end, -10000.0)


def _best_token_spans(
    start: np.ndarray, end: np.ndarray, allowed: np.ndarray, top_k: int
) -> list[tuple[int, int, float]]:
    """The best ``(start token, end token, score)`` of one window: softmax over the window,
    start <= end < start + MAX_ANSWER_TOKENS, both inside the passage."""
    p_start = np.exp(start - start.max())
    p_start /= p_start.sum()
    p_end = np.exp(end - end.max())
    p_end /= p_end.sum()
    p_start[~allowed] = 0.0
    p_end[~allowed] = 0.0
    scores = np.triu(np.tril(np.outer(p_start, p_end), MAX_ANSWER_TOKENS - 1))
    flat = scores.ravel()
    wanted = min(flat.size, 4 * top_k + 8)  # room for spans lost to trimming and duplicates
    top = np.argpartition(-flat, wanted - 1)[:wanted]
    top = top[np.argsort(-flat[top], kind="stable")]
    spans = []
    for position in top:
        if flat[position] <= 0.0:
            break
        s, e = divmod(int(position), scores.shape[1])
        spans.append((s, e, float(flat[position])))
    return spans


def _char_span(encoding: Any, s: int, e: int) -> tuple[int, int]:
    """Token span to character span in the passage, widened to whole words."""
    try:
        start_word, end_word = encoding.token_to_word(s), encoding.token_to_word(e)
        start = encoding.word_to_chars(start_word, sequence_index=1)[0]
        end = encoding.word_to_chars(end_word, sequence_index=1)[1]
        if start < end:
            return int(start), int(end)
    except Exception:  # tokenizers without a notion of words: keep to the token offsets
        pass
    return int(encoding.offsets[s][0]), int(encoding.offsets[e][1])


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without surrounding whitespace and punctuation. A bracket or quote
    stays when its partner is inside the span ("Programm (EXIST)"); one pair around the
    whole span goes ("(KMU)" -> "KMU")."""
    start, end = max(0, start), min(len(text), end)
    while start < end:
        first, last = text[start], text[end - 1]
        if first.isspace() or (first in _PUNCTUATION and not _partner_after(text, start, end)):
            start += 1
        elif last.isspace() or (last in _PUNCTUATION and not _partner_before(text, start, end)):
            end -= 1
        elif end - start > 2 and _encloses(text, start, end):
            start, end = start + 1, end - 1
        else:
            break
    return start, end


def _encloses(text: str, start: int, end: int) -> bool:
    """Whether the span's first and last characters are one pair around all of it."""
    first, last, inner = text[start], text[end - 1], set(text[start + 1 : end - 1])
    if _OPENING.get(first) == last:
        return not {first, last} & inner
    return first in _QUOTES and last in _QUOTES and not _QUOTES & inner


def _partner_after(text: str, start: int, end: int) -> bool:
    char, rest = text[start], text[start + 1 : end]
    if char in _OPENING:
        return _OPENING[char] in rest
    return char in _QUOTES and any(c in _QUOTES for c in rest)


def _partner_before(text: str, start: int, end: int) -> bool:
    char, rest = text[end - 1], text[start : end - 1]
    if char in _CLOSING:
        return _CLOSING[char] in rest
    return char in _QUOTES and any(c in _QUOTES for c in rest)


def load_reader(name: str, hub_timeout: float = 1.0) -> Reader:
    """Load the reader or raise :class:`ReaderUnavailableError` quickly (failures are remembered
    for :data:`assistant.hub.FAILURE_TTL` seconds; local folders are looked at every time)."""
    if is_disabled(name):
        raise ReaderUnavailableError(f"Lesemodell abgeschaltet (reader={name!r}).")

    def load() -> Reader:
        source, local_only = hub.resolve_model(name, hub_timeout, ReaderUnavailableError, _advice)
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            model = AutoModelForQuestionAnswering.from_pretrained(source, local_files_only=local_only)
        except Exception as exc:  # the hub client and transformers raise many kinds of errors
            raise ReaderUnavailableError(_advice(name, f"Laden fehlgeschlagen ({type(exc).__name__}: {exc})")) from None
        if not getattr(tokenizer, "is_fast", False):
            raise ReaderUnavailableError(
                _advice(name, "Laden fehlgeschlagen (kein schneller Tokenizer, tokenizer.json fehlt)")
            )
        tokenizer.padding_side = "right"  # the question first, the passage after it
        device = "cuda" if hub.cuda_available() else "cpu"
        model.to(device)
        model.eval()
        return Reader(model, tokenizer, name, device)

    return hub.load_remembered("reader", name, ReaderUnavailableError, load)


def _advice(name: str, reason: str) -> str:
    return (
        f"Lesemodell {name!r} nicht verfügbar: {reason}. Antworten entstehen ohne Lesemodell. "
        "Abhilfe: einmal mit Internetzugang ausführen (das Modell wird dann zwischengespeichert) "
        "oder einen lokalen Modellordner angeben (--reader /pfad/zum/modell oder "
        "ASSISTANT_READER=/pfad/zum/modell); --reader none bzw. ASSISTANT_READER=none schaltet "
        "das Lesemodell ab."
    )
