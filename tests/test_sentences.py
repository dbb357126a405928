"""German sentence boundaries: abbreviations, ordinal dates and numbered lists stay together,
line breaks end sentences, and every span is exact (``text[start:end]`` is the sentence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.text.sentences import sentence_spans, split_sentences

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def assert_exact(text: str) -> list[str]:
    """The spans are ordered, do not overlap, carry no outer whitespace and cover every
    non-space character of ``text``."""
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip(), piece
        assert not text[previous_end:start].strip(), f"lost text: {text[previous_end:start]!r}"
        previous_end = end
    assert not text[previous_end:].strip(), f"lost text: {text[previous_end:]!r}"
    sentences = split_sentences(text)
    assert sentences == [text[a:b] for a, b in spans]
    return sentences


@pytest.mark.parametrize(
    "first",
    [
        "Das gilt z. B. für Cluster im Ruhrgebiet.",
        "Dies gilt z.B. für stehende Maschinen.",
        "Dr. Kai Pflanz beantwortete Fragen zur ESCA Zertifizierung.",
        "Prof. Dr. Müller eröffnete das Treffen.",
        "Der Antrag Nr. 5 wurde angenommen.",
        "Es kamen ca. 60 Mitarbeiter*innen.",
        "Unternehmen bzw. Vereine können Ressourcen teilen.",
        "Dabei waren u. a. Vertreter des BMWK.",
        "Die Beratung ist i. d. R. kostenlos.",
        "Das Treffen fand am 20. Oktober 2022 online statt.",
        "Am 9. Mai fand eine Infoveranstaltung statt.",
        "Vom 25. bis 28. April 2017 trafen sich zehn europäische Cluster in Berlin.",
        "Die Konferenz findet vom 26.-27. September in Prag statt.",
        "NIRO belegte den 3. Platz im Wettbewerb.",
        "Das Programm hat ein Budget von 2,3 Mrd. € im Zeitraum von 2014 bis 2020.",
        "Die Cluster Map umfasst über 1.300 Clusterorganisationen.",
    ],
)
def test_abbreviations_and_ordinals_do_not_end_a_sentence(first):
    second = "Danach gab es Fragen."
    text = f"{first} {second}"
    assert assert_exact(text) == [first, second]


@pytest.mark.parametrize(
    "text, expected",
    [
        # Two ordinal dates in one line: pysbd takes "3." and "4." for list items.
        ("Er kam am 3. Januar. Sie kam am 4. Februar.", ["Er kam am 3. Januar.", "Sie kam am 4. Februar."]),
        ("Das ist am 1. 2. 2023 passiert. Gut.", ["Das ist am 1. 2. 2023 passiert.", "Gut."]),
        ("Nachzulesen in Bd. 3 der Reihe. Gut.", ["Nachzulesen in Bd. 3 der Reihe.", "Gut."]),
        ("Das steht in Abs. 2 Nr. 3 des Vertrags. Gut.", ["Das steht in Abs. 2 Nr. 3 des Vertrags.", "Gut."]),
        ("Im 19. Jh. war das anders. Heute nicht.", ["Im 19. Jh. war das anders.", "Heute nicht."]),
        ("Das Büro liegt in der Hauptstr. 5 in Unna. Gut.", ["Das Büro liegt in der Hauptstr. 5 in Unna.", "Gut."]),
        ("Die Sitzung ist am Mo. 3. Juli. Gut.", ["Die Sitzung ist am Mo. 3. Juli.", "Gut."]),
    ],
)
def test_pieces_that_end_in_no_sentence_end_are_joined(text, expected):
    assert assert_exact(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Das kostet 5 Euro. 10 Leute kamen.", ["Das kostet 5 Euro.", "10 Leute kamen."]),
        ("Es gibt ein eBay-Angebot. iPhones sind teuer.", ["Es gibt ein eBay-Angebot.", "iPhones sind teuer."]),
        ("Frage? Antwort! Ende.", ["Frage?", "Antwort!", "Ende."]),
        ("Sie sagte: „Das ist gut.“ Dann ging sie.", ["Sie sagte: „Das ist gut.“", "Dann ging sie."]),
        ("Wiederholung. Wiederholung. Wiederholung.", ["Wiederholung."] * 3),
    ],
)
def test_real_sentence_ends_still_split(text, expected):
    assert assert_exact(text) == expected


def test_numbered_list_gives_one_sentence_per_item():
    text = "So geht es:\n1. Antrag stellen.\n2. Unterlagen einreichen.\n3. Bescheid abwarten."
    assert assert_exact(text) == [
        "So geht es:",
        "1. Antrag stellen.",
        "2. Unterlagen einreichen.",
        "3. Bescheid abwarten.",
    ]


def test_numbered_items_in_one_line_and_without_full_stops():
    assert assert_exact("1. Antrag stellen. 2. Unterlagen einreichen. 3. Bescheid abwarten.") == [
        "1. Antrag stellen.",
        "2. Unterlagen einreichen.",
        "3. Bescheid abwarten.",
    ]
    assert assert_exact("Schritte:\n1. Antrag stellen\n2. Unterlagen einreichen") == [
        "Schritte:",
        "1. Antrag stellen",
        "2. Unterlagen einreichen",
    ]


def test_line_breaks_and_blank_lines_end_sentences():
    text = "Überaus rege Teilnahme\nMehr als 80 Gäste kamen.\n\n\nThema Netzwerken\nDas Netzwerken stand im Mittelpunkt"
    assert assert_exact(text) == [
        "Überaus rege Teilnahme",
        "Mehr als 80 Gäste kamen.",
        "Thema Netzwerken",
        "Das Netzwerken stand im Mittelpunkt",
    ]


def test_offsets_with_surrounding_whitespace_tabs_and_crlf():
    text = "  Erster Satz hier.  Zweiter\tSatz.  \r\n\r\n   Dritter Satz ohne Punkt  \n"
    sentences = assert_exact(text)
    assert sentences == ["Erster Satz hier.", "Zweiter\tSatz.", "Dritter Satz ohne Punkt"]
    spans = sentence_spans(text)
    assert spans[0] == (2, 19)
    assert text[spans[2][0] : spans[2][1]] == "Dritter Satz ohne Punkt"


def test_repeated_sentences_get_their_own_offsets():
    text = "Ja.\nJa.\nJa. Ja."
    spans = sentence_spans(text)
    assert spans == ((0, 3), (4, 7), (8, 11), (12, 15))


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "\n \n\t\n"])
def test_empty_text_has_no_sentences(text):
    assert sentence_spans(text) == ()
    assert split_sentences(text) == []


def test_offsets_are_exact_on_the_shipped_corpus():
    files = sorted(CORPUS.glob("*.txt"))
    assert len(files) == 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        sentences = assert_exact(text)
        assert len(sentences) > 5
        assert not any("\n" in s for s in sentences)


def test_corpus_sentences_with_dates_and_abbreviations_stay_whole():
    niro = (CORPUS / "2022-10-niro-clustererfolg.txt").read_text(encoding="utf-8")
    assert (
        "Zum dritten Mal in Folge trafen sich online am 20. Oktober 2022 rund 60 Mitarbeiter*innen aus "
        "Netzwerk-Organisationen, die Teil des Programms „go-cluster“ sind, zum jährlichen "
        "Erfahrungsaustausch."
    ) in split_sentences(niro)
    baltic = (CORPUS / "2017-05-balticnet-plasmatec-cluster-excellence-training.txt").read_text(encoding="utf-8")
    sentences = split_sentences(baltic)
    assert any(s.startswith("Vom 25. bis 28. April 2017 trafen sich") and s.endswith("in Berlin.") for s in sentences)
    assert any(
        s.startswith("Das Programm verfügt über ein geplantes Budget von 2,3 Mrd. €") and s.endswith("2014 bis 2020.")
        for s in sentences
    )
    assert any(
        s.startswith("Am letzten Tag bekamen alle Partner zusätzlich die Gelegenheit mit Dr. Kai Pflanz")
        and s.endswith("zu stellen.")
        for s in sentences
    )
    camp = (CORPUS / "2020-cross-cluster-camp-ifii.txt").read_text(encoding="utf-8")
    assert any(
        "z.B. stehende Maschinen" in s and s.endswith("nicht ausgelastet sind.") and s.startswith("Über die")
        for s in split_sentences(camp)
    )
