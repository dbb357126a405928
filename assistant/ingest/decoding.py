"""Bytes -> str for the text formats (txt, md, html): UTF-8 with or without BOM, UTF-16, and the
single-byte code pages of older German files, chosen by the German letters they yield."""

from __future__ import annotations

import itertools
import re

from ..errors import DocumentError


def decode_text(raw: bytes, doc_id: str) -> str:
    """Bytes -> str for text formats: UTF-8 (with or without BOM), UTF-16 with BOM, and the
    cp1252 / latin-1 family that older German files use (see :func:`_legacy_encodings`).
    Binary content is rejected."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return _check_text(raw[3:].decode("utf-8", errors="replace"), doc_id)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _check_text(raw.decode("utf-16"), doc_id)
        except UnicodeDecodeError:
            raise DocumentError(doc_id, "UTF-16-Text ist nicht dekodierbar") from None
    if b"\x00" in raw[:4096]:
        guessed = _utf16_without_bom(raw)
        if guessed is not None:
            return _check_text(guessed, doc_id)
        raise DocumentError(doc_id, "Binärdatei, kein Text (Nullbytes)")
    try:
        return _check_text(raw.decode("utf-8"), doc_id)
    except UnicodeDecodeError:
        pass
    for encoding in _legacy_encodings(raw):
        try:
            return _check_text(raw.decode(encoding), doc_id)
        except UnicodeDecodeError:
            continue  # a byte the sample did not show is undefined there: the next candidate
    raise DocumentError(doc_id, "Zeichenkodierung nicht erkennbar")


# The single-byte code pages of older German files, in order of preference when the letters do
# not decide (cp1252 is what Windows writes; latin-9 differs from it only in "€" and a few rare
# letters; latin-1 holds control characters where cp1252 holds „“–€; DOS and old Macs follow).
LEGACY_ENCODINGS = ("cp1252", "iso8859_15", "latin_1", "cp850", "mac_roman")
# Non-ASCII characters that a German text plausibly holds: its own letters, accented letters
# of names and loan words, typographic punctuation, a few symbols. Everything else non-ASCII
# (box drawing, "÷", "‰", "ˆ", "¸", "ƒ", "‹", control characters, ...) is what another code
# page's letters turn into.
_PLAUSIBLE = frozenset(
    "äöüÄÖÜßàáâãåæçèéêëìíîïñòóôõøùúûýÿÀÁÂÃÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕØÙÚÛÝ„“”‚‘’«»–—…•·€£§°±×µ¼½¾©®™´\u00a0\u00ad"
)
# A non-ASCII run with one character of context each side: the only part where code pages differ.
_NON_ASCII_RUN = re.compile(rb"[\x00-\x7f]?[\x80-\xff]+[\x00-\x7f]?")
_SAMPLE_RUNS = 2000


def _legacy_encodings(raw: bytes) -> list[str]:
    """The code pages to try for bytes that are no UTF-8, best first.

    Each candidate decodes the non-ASCII parts of the file (the first ``_SAMPLE_RUNS`` runs, with
    their neighbours) and is scored by :func:`_german_score`: German letters where letters
    belong count for it, characters another code page's letters turn into count against it
    (cp1252 "Münster" read as cp850 is "M³nster"). charset-normalizer decides only between the
    best candidates when they tie with different text and no German letter among them (it
    guessed cp850 for short cp1252 files: issue 14)."""
    sample = b" ".join(m.group() for m in itertools.islice(_NON_ASCII_RUN.finditer(raw), _SAMPLE_RUNS))
    scored: list[tuple[int, int, str, str]] = []  # (-score, preference, text, encoding)
    for preference, encoding in enumerate(LEGACY_ENCODINGS):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        scored.append((-_german_score(text), preference, text, encoding))
    scored.sort()
    if not scored:
        return []
    best = scored[0]
    tied = [c for c in scored if c[0] == best[0] and c[2] != best[2]]
    if tied and best[0] >= 0:
        from charset_normalizer import from_bytes

        guessed = from_bytes(raw[: 1 << 16], cp_isolation=[best[3]] + [c[3] for c in tied]).best()
        if guessed is None:
            return []  # neither letters nor charset-normalizer say what this is: no text
        scored.sort(key=lambda c: c[3] != guessed.encoding)
    return [c[3] for c in scored]


def _german_score(text: str) -> int:
    """German letters in a word (+1 each) against implausible characters (-3 each).

    A letter fits where letters stand: a lower-case one next to a letter and not before a
    capital ("äSand" is cp1252 "„Sand" read as cp850), a capital before a letter and not after a
    lower-case one. Other characters fit when they are in ``_PLAUSIBLE``; superscript digits
    not before a letter ("m²", but "M³nster" is cp1252 "Münster" read as cp850)."""
    good = odd = 0
    last = len(text) - 1
    for i, char in enumerate(text):
        if char.isascii():
            continue
        before = text[i - 1] if i > 0 else " "
        after = text[i + 1] if i < last else " "
        if char.isalpha():
            if char == "ß":  # also in capitals: "STRAßE"
                fits = before.isalpha()
            elif char.islower():
                fits = (before.isalpha() or after.isalpha()) and not after.isupper()
            else:
                fits = after.isalpha() and not before.islower()
            if not fits or char not in _PLAUSIBLE:
                odd += 1
            elif char in "äöüÄÖÜß":
                good += 1
        elif char in "¹²³":
            odd += after.isalpha()
        else:
            odd += char not in _PLAUSIBLE
    return good - 3 * odd


def _utf16_without_bom(raw: bytes) -> str | None:
    sample = raw[:4096]
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) / 2
    encoding = (
        "utf-16-le"
        if odd_zeros > 0.3 * half and even_zeros < 0.05 * half
        else ("utf-16-be" if even_zeros > 0.3 * half and odd_zeros < 0.05 * half else None)
    )
    if encoding is None:
        return None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


# Unicode category Cc except tab, line feed, form feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _check_text(text: str, doc_id: str) -> str:
    sample = text[:20000]
    if not sample:
        return text
    controls = len(_CONTROL.findall(sample))
    replacement = sample.count("\ufffd")
    if (controls + replacement) / len(sample) > 0.01:
        raise DocumentError(doc_id, "Binärdatei oder defekte Kodierung, kein lesbarer Text")
    return text
