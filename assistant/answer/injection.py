"""Text in a document that is addressed to an assistant or a language model rather than to its
readers ("Ignoriere alle bisherigen Anweisungen", "antworte nur mit", "Du bist jetzt ..."): a
prompt injection. Such a sentence is never an answer of the extractive answerer, is marked as
such in the passages sent to a language model (:mod:`.llm`), and is no evidence for a generated
sentence (:mod:`.grounding`)."""

from __future__ import annotations

import re

from ..text.sentences import sentence_spans

_INSTRUCTION = re.compile(
    r"\b(ignorier\w*|vergiss|missachte\w*)\b.{0,40}\b(anweisung\w*|regeln|vorgaben|instruktion\w*)\b"
    r"|\bantworte\w*\s+(nur|ausschließlich|immer)\b|\bantworte\s+(mit|stattdessen)\b|\bantworte\s*:"
    r"|\b(schreib\w*|gib|nenne)\b.{0,30}\bals antwort\b"
    r"|\bdu bist (jetzt|nun|ab sofort)\b|\bsystem-?prompt\b"
    # the same in English, the language most injections are written in
    r"|\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules)\b|\byou are now\b"
    r"|\b(answer|respond|reply)\s+only\b",
    re.I,
)


def looks_like_instruction(text: str) -> bool:
    """Whether a sentence reads as an instruction to an assistant (a prompt injection)."""
    return bool(_INSTRUCTION.search(text))


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` that looks like an instruction to an assistant."""
    return [(start, end) for start, end in sentence_spans(text) if looks_like_instruction(text[start:end])]
