"""German date extraction: single days, ranges, months, years, and what is no date."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest

from assistant.ingest.corpus import scan_corpus
from assistant.ingest.dates import extract_dates, month_span
from assistant.ingest.parsers import load_document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def spans(text: str, default_year: int | None = None) -> list[tuple[date, date, str, str]]:
    mentions = extract_dates(text, default_year=default_year)
    for mention in mentions:  # offsets always point at the mention's text
        assert text[mention.offset : mention.offset + len(mention.text)] == mention.text
    return [(m.start, m.end, m.text, m.precision) for m in mentions]


def D(y: int, m: int, d: int) -> date:
    return date(y, m, d)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Meldung vom 17.05.2017.", [(D(2017, 5, 17), D(2017, 5, 17), "17.05.2017", "day")]),
        (
            "am 1.2.2020 und 03. 04. 2021",
            [(D(2020, 2, 1), D(2020, 2, 1), "1.2.2020", "day"), (D(2021, 4, 3), D(2021, 4, 3), "03. 04. 2021", "day")],
        ),
        ("Stand 17.05.17", [(D(2017, 5, 17), D(2017, 5, 17), "17.05.17", "day")]),
        ("Am 9. Mai 2022 fand", [(D(2022, 5, 9), D(2022, 5, 9), "9. Mai 2022", "day")]),
        ("am 20. Oktober 2022 rund", [(D(2022, 10, 20), D(2022, 10, 20), "20. Oktober 2022", "day")]),
        ("am 20. Okt. 2022", [(D(2022, 10, 20), D(2022, 10, 20), "20. Okt. 2022", "day")]),
        ("am 3. März 2021", [(D(2021, 3, 3), D(2021, 3, 3), "3. März 2021", "day")]),
        ("Vom 25. bis 28. April 2017 trafen sich", [(D(2017, 4, 25), D(2017, 4, 28), "25. bis 28. April 2017", "day")]),
        ("vom 30. April bis 2. Mai 2017", [(D(2017, 4, 30), D(2017, 5, 2), "30. April bis 2. Mai 2017", "day")]),
        ("am 26.–27.09.2022", [(D(2022, 9, 26), D(2022, 9, 27), "26.–27.09.2022", "day")]),
        ("vom 26.09.-27.09.2022", [(D(2022, 9, 26), D(2022, 9, 27), "26.09.-27.09.2022", "day")]),
        ("vom 25.04. bis 28.04.2017", [(D(2017, 4, 25), D(2017, 4, 28), "25.04. bis 28.04.2017", "day")]),
        ("Seit Januar 2019 hilft", [(D(2019, 1, 1), D(2019, 1, 31), "Januar 2019", "month")]),
        ("im Februar 2024", [(D(2024, 2, 1), D(2024, 2, 29), "Februar 2024", "month")]),
        ("am 2017-05-17 um", [(D(2017, 5, 17), D(2017, 5, 17), "2017-05-17", "day")]),
        (
            "Budget von 2,3 Mrd. € im Zeitraum von 2014 bis 2020",
            [(D(2014, 1, 1), D(2014, 12, 31), "2014", "year"), (D(2020, 1, 1), D(2020, 12, 31), "2020", "year")],
        ),
        ("Cross-Cluster-Camp 2020", [(D(2020, 1, 1), D(2020, 12, 31), "2020", "year")]),
    ],
)
def test_single_mentions(text, expected):
    assert spans(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Das Programm verfügt über ein Budget von 2,3 Mrd. € für KMU.",
        "Version 3.5 ist erschienen.",
        "Version 2.10.12 behebt Fehler.",
        "Die Datei liegt unter 1.2.10.5 im Netz.",
        "Über 1300 Organisationen und 4,5 Mio. Euro.",
        "Am 31.02.2020 gibt es nicht.",
        "Zum 1. FC Köln und 3. Liga.",
        "Tel. 0231 12.34.56",
        "Kapitel 3.5.2 beschreibt 12,5 % mehr.",
    ],
)
def test_no_false_dates(text):
    assert spans(text) == []


def test_day_without_year_needs_context_or_default():
    assert spans("am 26.-27. September in Köln") == []
    assert spans("am 26.-27. September in Köln", default_year=2022) == [
        (D(2022, 9, 26), D(2022, 9, 27), "26.-27. September", "day")
    ]
    assert spans("am 3. Juni", default_year=2019) == [(D(2019, 6, 3), D(2019, 6, 3), "3. Juni", "day")]


def test_year_comes_from_closest_full_date_before():
    text = "Am 9. Mai 2022 fand ein Treffen statt. Das nächste folgt am 26.-27. September in Köln."
    assert spans(text, default_year=2000)[1][:2] == (D(2022, 9, 26), D(2022, 9, 27))
    text = "Am 17.05.2017 und am 12.01.2019. Dann am 3. Juni."
    assert spans(text, default_year=2000)[-1][:2] == (D(2019, 6, 3), D(2019, 6, 3))


def test_bare_year_does_not_set_year_of_later_day():
    text = "Meldung 17.05.2017. Das Programm läuft von 2014 bis 2020. Am 3. Juni trafen sich alle."
    found = spans(text)
    assert [m[2] for m in found] == ["17.05.2017", "2014", "2020", "3. Juni"]
    assert found[-1][:2] == (D(2017, 6, 3), D(2017, 6, 3))


def test_mentions_are_in_order_and_do_not_overlap():
    text = (
        "Meldung 17.05.2017\nVom 25. bis 28. April 2017 in Berlin, danach am 2017-06-01, "
        "seit Januar 2019 im Programm, 2020 digital und am 9. Mai 2022 erneut."
    )
    mentions = extract_dates(text)
    offsets = [(m.offset, m.offset + len(m.text)) for m in mentions]
    assert offsets == sorted(offsets)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(offsets))
    assert [m.precision for m in mentions] == ["day", "day", "day", "month", "year", "day"]


def test_month_span():
    assert month_span(2023, 2) == (D(2023, 2, 1), D(2023, 2, 28))
    assert month_span(2024, 12) == (D(2024, 12, 1), D(2024, 12, 31))


# --- the shipped corpus ------------------------------------------------------------------------

EXPECTED_FIRST_DAY = {
    "2017-05-balticnet-plasmatec-cluster-excellence-training.txt": D(2017, 5, 17),
    "2022-05-go-cluster-eccp-infoveranstaltung.txt": D(2022, 5, 9),
    "2022-10-niro-clustererfolg.txt": D(2022, 10, 20),
}


@pytest.fixture(scope="module")
def corpus_docs():
    files, _ = scan_corpus(CORPUS, 50_000_000)
    return {f.doc_id: load_document(f) for f in files}


@pytest.mark.parametrize("doc_id, first_day", sorted(EXPECTED_FIRST_DAY.items()))
def test_corpus_document_date(corpus_docs, doc_id, first_day):
    doc = corpus_docs[doc_id]
    assert doc.date is not None
    assert doc.date.precision == "day"
    assert doc.date.start == first_day


def test_corpus_balticnet_header_and_april_range(corpus_docs):
    doc = corpus_docs["2017-05-balticnet-plasmatec-cluster-excellence-training.txt"]
    first = doc.date
    assert first.text == "17.05.2017" and doc.text[first.offset : first.offset + 10] == "17.05.2017"
    assert doc.text.startswith("17.05.2017")  # the line "Meldung" before it is boilerplate (ingest/boilerplate.py)
    ranges = [(m.start, m.end) for m in doc.dates if m.start != m.end and m.precision == "day"]
    assert ranges == [(D(2017, 4, 25), D(2017, 4, 28))]
    # "2,3 Mrd. €" yields no date; "2014 bis 2020" are two years.
    assert not any("2,3" in m.text or m.text.startswith("3") for m in doc.dates)
    assert [m.text for m in doc.dates if m.precision == "year"] == ["2014", "2020"]


def test_corpus_go_cluster_september_range_takes_context_year(corpus_docs):
    doc = corpus_docs["2022-05-go-cluster-eccp-infoveranstaltung.txt"]
    september = [m for m in doc.dates if m.text.startswith("26.")]
    assert [(m.start, m.end) for m in september] == [(D(2022, 9, 26), D(2022, 9, 27))]


def test_corpus_cross_cluster_camp_has_month_and_year(corpus_docs):
    doc = corpus_docs["2020-cross-cluster-camp-ifii.txt"]
    assert doc.dates[0].precision == "year" and doc.dates[0].start == D(2020, 1, 1)
    months = [(m.start, m.end) for m in doc.dates if m.precision == "month"]
    assert months == [(D(2019, 1, 1), D(2019, 1, 31))]
    assert doc.date is doc.dates[0]  # no day-precision date: the first mention


def test_corpus_undated_document(corpus_docs):
    assert corpus_docs["in-die-region-westfalen-sommerempfang.txt"].dates == ()
