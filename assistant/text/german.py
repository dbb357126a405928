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

Gender-inclusive forms (``Mitarbeiter*innen``, ``Mitarbeiter:innen``, ``Mitarbeiter_innen``,
``Mitarbeiter·innen``, ``Mitarbeiter/innen``, ``Mitarbeiter/-innen``, ``Mitarbeiter(innen)``,
``MitarbeiterInnen``, and the singular ``-in``) become one word (``kolleg*innen``) whose terms
are those of the base word and of the feminine form (``kolleg`` + ``kollegin``), so they find
"Kollegen", "Kollegin" and "Kolleginnen" and are found by them (for nouns in -er Snowball gives
all three one stem already: ``mitarbeit``). A feminine plural shares the singular's stem
(``kolleginnen`` -> ``kollegin``) when its base is a word of the corpus (not ``gewinnen``, whose
"gew" is none). Inside a compound the form stands for the base (``Bürger*innenbeteiligung`` ->
``bürgerbeteiligung``). The analysis may move text around (offsets are not kept): it only makes
terms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import orjson

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_WORD_OR_GENDER = re.compile(r"[^\W_]+(?:\x00[^\W_]+)?", re.UNICODE)
# Gender-inclusive forms, matched before lower-casing (the Binnen-I is an upper-case "I" after a
# lower-case letter). Not after ":" with upper case ("Substrat:In"), not inside underscore-joined
# names ("Todesstrafe_in_den_USA"); followed by letters only as the plural inside a compound.
_GENDER = re.compile(
    r"(?<![^\W\d])(?P<base>[^\W\d_]{2,}?)"
    r"(?:(?P<mark>[*_\u00b7]|/-?)(?P<fem>[Ii]nnen|[Ii]n)|:(?P<colon>innen|in)|\((?P<paren>innen|in)\)"
    r"|(?P<binnen>Innen|In))"
    r"(?P<rest>[^\W\d_]*)(?!_)"
)
# Cheap test for texts that may hold one (a literal prefix keeps it fast: +15 % on words_of).
_MAYBE_GENDER = re.compile(r"in(?<=[*_\u00b7:(/-]in)|In(?<=[^\W\d]In)|In(?<=[*\u00b7:(/-]In)")
GENDER_MARK = "*"  # joins base and feminine ending in the words of a gender form: "mitarbeiter*innen"
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_VOWELS = frozenset("aeiouyäöü")
_LINKING = ("", "s", "es", "n", "en", "er", "e")
# Past participles: "ausgezeichnet" -> "auszeichnen", "angemeldet" -> "anmelden", "gewählt" -> "wählen".
_PARTICIPLE = re.compile(
    r"^(ab|an|auf|aus|bei|ein|fest|her|hin|mit|nach|vor|weg|zu|zurück|zusammen|teil|vorbei|vorgestellt)?"
    r"ge([a-zäöüß]{3,}?)(et|t)$"
)
# Interrogatives: not in the stop-word list (they are words of documents too), but in a query they
# say what is asked, not about what, and a passage that happens to contain "wann" or "wodurch"
# is no better for it. Dropped from queries (GermanQuAD word-only hit@1 +0.2, see evals/research).
QUESTION_WORDS = frozenset(
    "wann wer wen wem wessen warum wieso weshalb weswegen wodurch womit wofür wogegen woher wohin worauf "
    "woraus worin worüber worum wovon wovor wozu woran wieviel wieviele inwiefern inwieweit".split()
)
MIN_PART = 4
MIN_COMPOUND = 8
# Raised whenever analyze() produces other terms for the same text: an index built with another
# version is rebuilt in full (its stored tokens would not match the queries).
ANALYZER_VERSION = 3


def _gender_form(match: re.Match[str]) -> str:
    """``Mitarbeiter*innen`` -> ``Mitarbeiter\\x00innen`` (one word for :data:`_WORD`);
    inside a compound the base alone; anything else unchanged."""
    base, rest = match["base"], match["rest"]
    ending = match["fem"] or match["colon"] or match["paren"] or match["binnen"]
    if match["binnen"] and not base[-1].islower():
        return match[0]
    if rest:
        if ending.lower() != "innen" or match["paren"] or (match["mark"] or "").startswith("/"):
            return match[0]
        return base + rest
    return base + "\x00" + ending.lower()


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

    @property
    def stopwords(self) -> frozenset[str]:
        """The words :meth:`words_of` drops."""
        return self._stop

    def words_of(self, text: str) -> list[str]:
        # NFC: a query typed as "o" + combining diaeresis must match the "ö" of the documents.
        text = unicodedata.normalize("NFC", text)
        if not _MAYBE_GENDER.search(text):
            return [w for w in _WORD.findall(text.lower()) if w not in self._stop]
        text = _GENDER.sub(_gender_form, text.replace("\x00", " ")).lower()
        return [
            w.replace("\x00", GENDER_MARK) if "\x00" in w else w
            for w in _WORD_OR_GENDER.findall(text)
            if w not in self._stop
        ]

    def add_vocabulary(self, words: Iterable[str]) -> None:
        words = _expand_gender(words)
        new = {w for w in words if len(w) >= MIN_PART and not w.isdigit() and w not in self._stop}
        new -= self.words
        if not new:
            return
        self.words |= new
        self.stems |= set(self._stemmer.stemWords(sorted(new)))
        self._split.cache_clear()
        self._terms_of_word.clear()

    def stem(self, word: str) -> str:
        """Snowball's stem, with two corrections that need the corpus' words:

        - a feminine plural gets the singular's ("kolleginnen" -> "kollegin") when the word
          without "-innen" is one of the corpus (in any form);
        - an "s" after a vowel goes ("liberias" -> "liberia", "kanadas" -> "kanada", "autos" ->
          "auto") when the word without it is one of the corpus (4 letters or more): Snowball
          drops an "s" only after certain consonants, so genitives of names and plurals of loan
          words kept it.
        """
        stem = self._stemmer.stemWord(word)
        if stem.endswith("inn") and word.endswith("innen") and len(word) >= MIN_PART + 5:
            base = word[:-5]
            if base in self.words or self._stemmer.stemWord(base) in self.stems:
                return self._stemmer.stemWord(word[:-3])
        elif stem.endswith("s") and word.endswith("s") and word[-2:-1] in _VOWELS and word[:-1] in self.words:
            return self._stemmer.stemWord(word[:-1])
        return stem

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
        if GENDER_MARK in word:
            base, _ending = word.split(GENDER_MARK, 1)
            terms = self._word_terms(base)
            feminine = self._stemmer.stemWord(base + "in")  # singular and plural alike
            return terms if feminine in terms else (*terms, feminine)
        stem = self.stem(word)
        if not self.decompound or len(word) < MIN_COMPOUND or word.isdigit():
            return (stem,)
        parts = self._split(word)
        return (stem, *(p for p in parts if p != stem)) if parts else (stem,)

    def query_words(self, text: str) -> list[str]:
        """The words of a query: :meth:`words_of` without interrogatives (QUESTION_WORDS)."""
        return [w for w in self.words_of(text) if w not in QUESTION_WORDS]

    def query_terms(self, text: str, known: Callable[[str], bool]) -> list[str]:
        """Index terms for a query: those of :meth:`analyze` for its :meth:`query_words`, plus

        - the verb of a past participle ("ausgezeichnet" also looks for "Auszeichnung"), and
        - compounds the index knows that two query words form ("Bericht zur Nachhaltigkeit" also
          looks for ``nachhaltigkeitsbericht``, "Programm zur Förderung" for ``forderprogramm``),
          which finds compounds whose parts never occur alone in the corpus.
        """
        query_words = self.query_words(text)
        terms = [t for w in query_words for t in self.terms_of_word(w)]
        if not self.decompound:
            return terms
        words = [w for w in dict.fromkeys(w.split(GENDER_MARK, 1)[0] for w in query_words) if w.isalpha()]
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
        result: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []
        for word in self.words_of(text):
            feminine: tuple[str, ...] = ()
            if GENDER_MARK in word:  # the base word, with the feminine form as its alternative
                base, _ = word.split(GENDER_MARK, 1)
                feminine = (self._stemmer.stemWord(base + "in"),)
                word = base
            stem = self.stem(word)
            parts = (
                self._split(word) if (self.decompound and len(word) >= MIN_COMPOUND and not word.isdigit()) else None
            )
            verb = self._participle(word) if self.decompound else None
            alternatives: tuple[str, ...] = (verb,) if verb and verb != stem else ()
            alternatives += tuple(f for f in feminine if f != stem)
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

    def close(self) -> None:
        """Drop the caches of an analyzer no longer used (its index was replaced). The split
        cache refers back to the analyzer; without this the pair waited for the garbage collector."""
        split = self.__dict__.pop("_split", None)
        if split is not None:
            split.cache_clear()
        self._terms_of_word.clear()

    def save_vocabulary(self, path: Path) -> None:
        # The stems too: stemming a large vocabulary again would cost every start ~1 s per 1M words.
        # orjson: as the index's other JSON files (index/format.py write_json), several times faster.
        path.write_bytes(
            orjson.dumps({"words": sorted(self.words), "stems": sorted(self.stems), "stopwords": sorted(self._stop)})
        )

    @classmethod
    def load(cls, path: Path, decompound: bool = True) -> GermanAnalyzer:
        data = orjson.loads(path.read_bytes())
        analyzer = cls(decompound=decompound, stopwords=data["stopwords"])
        analyzer.words = set(data["words"])
        analyzer.stems = set(data["stems"])
        return analyzer


def _expand_gender(words: Iterable[str]) -> Iterable[str]:
    """Words of gender forms stand for their base and feminine form in the vocabulary."""
    for word in words:
        if GENDER_MARK in word:
            base, ending = word.split(GENDER_MARK, 1)
            yield base
            yield base + ending
        else:
            yield word


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
