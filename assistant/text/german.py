"""German text analysis for keyword search: words -> index terms (Snowball stems without stop
words, compound words indexed under their parts as well).

Compounds are split against the corpus' own vocabulary: ``Nachhaltigkeitsbericht`` becomes
``nachhaltigkeitsbericht`` + ``nachhalt`` + ``bericht`` because "Nachhaltigkeit" and "Bericht" occur
as words, so "Bericht zur Nachhaltigkeit" finds it, and ``Förderprogramm`` is found by "Programm
zur Förderung" the same way. Queries are split with the same vocabulary.

When the parts of a compound never occur on their own in the corpus, the vocabulary cannot split
it; the query side then joins its own words into the compounds the index knows
(``nachhaltigkeitsbericht`` for "Bericht zur Nachhaltigkeit"). Measured on GermanQuAD, indexing
participle forms or statistical (CharSplit) splits of every compound cost hit@5 (97.5 -> 97.2),
so both stay on the query side. Kept as own code rather than a library splitter for that
reason (CharSplit, the maintained option, splits statistically and lost hit@5).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_LINKING = ("", "s", "es", "n", "en", "er", "e")
# Past participles: "ausgezeichnet" -> "auszeichnen", "angemeldet" -> "anmelden", "gewählt" -> "wählen".
_PARTICIPLE = re.compile(
    r"^(ab|an|auf|aus|bei|ein|fest|her|hin|mit|nach|vor|weg|zu|zurück|zusammen|teil|vorbei|vorgestellt)?"
    r"ge([a-zäöüß]{3,}?)(et|t)$"
)
MIN_PART = 4
MIN_COMPOUND = 8
# Raised whenever analyze() produces other terms for the same text: an index built with another
# version is rebuilt in full (its stored tokens would not match the queries).
ANALYZER_VERSION = 2


@lru_cache(maxsize=1)
def default_stopwords() -> frozenset[str]:
    """The Snowball German stop words (``stopwords_de.txt``)."""
    text = (Path(__file__).parent / "stopwords_de.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


class GermanAnalyzer:
    """Text -> index terms. ``vocabulary`` holds the words that may appear as compound parts."""

    def __init__(
        self, vocabulary: Iterable[str] = (), decompound: bool = True, stopwords: Iterable[str] | None = None
    ) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("german")
        # An index keeps the stop words it was built with: queries drop the same words.
        self._stop = frozenset(stopwords) if stopwords is not None else default_stopwords()
        self.decompound = decompound
        self.words: set[str] = set()
        self.stems: set[str] = set()
        self._split = lru_cache(maxsize=200_000)(self._split_uncached)
        # word -> its index terms; a corpus repeats its words, so indexing looks each one up once.
        self._terms_of_word: dict[str, tuple[str, ...]] = {}
        self.add_vocabulary(vocabulary)

    def words_of(self, text: str) -> list[str]:
        # NFC: a query typed as "o" + combining diaeresis must match the "ö" of the documents.
        text = unicodedata.normalize("NFC", text).lower()
        return [w for w in _WORD.findall(text) if w not in self._stop]

    def add_vocabulary(self, words: Iterable[str]) -> None:
        new = {w for w in words if len(w) >= MIN_PART and not w.isdigit() and w not in self._stop}
        new -= self.words
        if not new:
            return
        self.words |= new
        self.stems |= set(self._stemmer.stemWords(sorted(new)))
        self._split.cache_clear()
        self._terms_of_word.clear()

    def stem(self, word: str) -> str:
        return self._stemmer.stemWord(word)

    def analyze(self, text: str) -> list[str]:
        terms: list[str] = []
        for word in self.words_of(text):
            terms.extend(self.terms_of_word(word))
        return terms

    def terms_of_word(self, word: str) -> tuple[str, ...]:
        """The index terms of one (lower-case, non-stop) word: its stem, then its compound parts."""
        found = self._terms_of_word.get(word)
        if found is None:
            if len(self._terms_of_word) > 2_000_000:
                self._terms_of_word.clear()
            found = self._terms_of_word[word] = self._word_terms(word)
        return found

    def _word_terms(self, word: str) -> tuple[str, ...]:
        stem = self._stemmer.stemWord(word)
        if not self.decompound or len(word) < MIN_COMPOUND or word.isdigit():
            return (stem,)
        parts = self._split(word)
        return (stem, *(p for p in parts if p != stem)) if parts else (stem,)

    def query_terms(self, text: str, known: Callable[[str], bool]) -> list[str]:
        """Index terms for a query: those of :meth:`analyze`, plus

        - the verb of a past participle ("ausgezeichnet" also looks for "Auszeichnung"), and
        - compounds the index knows that two query words form ("Bericht zur Nachhaltigkeit" also
          looks for ``nachhaltigkeitsbericht``, "Programm zur Förderung" for ``forderprogramm``),
          which finds compounds whose parts never occur alone in the corpus.
        """
        terms = self.analyze(text)
        if not self.decompound:
            return terms
        words = [w for w in dict.fromkeys(self.words_of(text)) if w.isalpha()]
        for word in words:
            base = self._participle(word) if len(word) >= 6 else None
            if base and base not in terms:
                terms.append(base)
        # A tuple, not a set: the order decides which form of a compound is found first (and so
        # whether it counts twice); set order changes with every process (hash randomization).
        forms = [(w, tuple(dict.fromkeys((w.translate(_FOLD), self.stem(w))))) for w in words if len(w) >= MIN_PART]
        for i, (_first, first_forms) in enumerate(forms):
            # Compound parts stand close together in a query: "Programm zur Förderung".
            for _second, second_forms in forms[max(0, i - 2) : i] + forms[i + 1 : i + 3]:
                for head in first_forms:
                    for link in _LINKING:
                        for tail in second_forms:
                            joined = head + link + tail
                            candidate = self.stem(joined)
                            if candidate not in terms and known(candidate):
                                terms.append(candidate)
                                if self._split(joined) is None:
                                    # The index holds it unsplit: let it count for both words.
                                    terms.append(candidate)
        return terms

    def _participle(self, word: str) -> str | None:
        """The infinitive's stem of a past participle, if that stem occurs in the corpus."""
        match = _PARTICIPLE.match(word)
        if not match:
            return None
        base = self.stem((match.group(1) or "") + match.group(2) + "en")
        return base if base in self.stems else None

    def word_terms(self, text: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        """``(word, stem, compound parts, alternative terms)`` for each non-stop word of ``text``."""
        words = self.words_of(text)
        result: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []
        for word, stem in zip(words, self._stemmer.stemWords(words), strict=True):
            parts = (
                self._split(word) if (self.decompound and len(word) >= MIN_COMPOUND and not word.isdigit()) else None
            )
            base = self._participle(word) if self.decompound else None
            alternatives: tuple[str, ...] = (base,) if base and base != stem else ()
            result.append((word, stem, tuple(p for p in parts or () if p != stem), alternatives))
        return result

    def _key(self, part: str) -> str | None:
        if part in self.words:
            return self.stem(part)
        folded = part.translate(_FOLD)
        if folded in self.stems:
            return folded
        return None

    def _split_uncached(self, word: str) -> tuple[str, ...] | None:
        """Split into known parts, longest first part first; None when no full split exists."""
        return _split_word(word, self._key, self._split, self.stem)

    def save_vocabulary(self, path: Path) -> None:
        # The stems too: stemming a large vocabulary again would cost every start ~1 s per 1M words.
        path.write_text(
            json.dumps(
                {"words": sorted(self.words), "stems": sorted(self.stems), "stopwords": sorted(self._stop)},
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path, decompound: bool = True) -> GermanAnalyzer:
        data = json.loads(path.read_text(encoding="utf-8"))
        analyzer = cls(decompound=decompound, stopwords=data["stopwords"])
        analyzer.words = set(data["words"])
        analyzer.stems = set(data["stems"])
        return analyzer


def _split_word(
    word: str,
    key: Callable[[str], str | None],
    split: Callable[[str], tuple[str, ...] | None],
    stem: Callable[[str], str] | None = None,
) -> tuple[str, ...] | None:
    """Split ``word`` into parts that ``key`` knows, longest first part first (``split`` recurses).

    Only the last part carries the inflection (``Förderprogramme``): it is also looked up by its
    stem."""
    for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
        head = key(word[:cut])
        if head is None:
            continue
        rest = word[cut:]
        for link in _LINKING:
            if not rest.startswith(link) or len(rest) - len(link) < MIN_PART:
                continue
            tail_word = rest[len(link) :]
            tail = key(tail_word)
            if tail is None and stem is not None:
                base = stem(tail_word)
                if base != tail_word and len(base) >= MIN_PART:
                    tail = key(base)
            if tail is not None:
                return (head, tail)
            deeper = split(tail_word) if len(tail_word) >= MIN_COMPOUND else None
            if deeper:
                return (head, *deeper)
    return None
