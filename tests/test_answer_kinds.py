"""Answers by question kind, on a small corpus written here (a funding call with a deadline, a
workshop ahead, a past meeting) and on the shipped corpus, with today fixed: deadlines that run
or have passed, what lies ahead of today (also without a topic), nothing ahead, definitions,
procedures, amounts, counts with gender-inclusive forms, who won, a number that no document
names, and the short answer's offsets inside its cited sentence."""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import lexical_index, write_corpus

from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.types import Answer

TODAY = date(2026, 12, 1)
CALL = "2026-10-digitalbonus-aufruf.txt"
WORKSHOP = "2026-11-wasserstoff-workshop.txt"
MEETING = "2025-03-netzwerktreffen-kiel.txt"
DOCUMENTS = {
    CALL: (
        "Förderaufruf Digitalbonus Mittelstand 2027\n\n"
        "Veröffentlicht am 15. Oktober 2026\n\n"
        "Der Digitalbonus Mittelstand ist ein Förderprogramm des Landes für kleine und mittlere "
        "Unternehmen. Gefördert werden Investitionen in Hard- und Software mit bis zu 10.000 Euro je "
        "Unternehmen. Anträge sind bis zum 31. Januar 2027 über das Förderportal einzureichen. Die "
        "Bewerbungsfrist für die erste Runde endete am 30. Juni 2026.\n\n"
        "Unternehmen können teilnehmen, indem sie zunächst eine Projektskizze beim Cluster einreichen "
        "und danach den Antrag online stellen.\n"
    ),
    WORKSHOP: (
        "Workshop Wasserstoff in der Logistik\n\n"
        "Am 12. Februar 2027 lädt das Netzwerk zu einem Workshop über Wasserstoff in der Logistik nach "
        "Bremen ein. Referentinnen und Referenten aus drei Unternehmen berichten von ersten "
        "Pilotprojekten. Die Anmeldung zum Workshop ist bis zum 5. Februar 2027 möglich.\n"
    ),
    "impressum.txt": "Impressum\n\nVerantwortlich für den Inhalt ist der Musterverein Nordwest e. V.\n",
    MEETING: (
        "Netzwerktreffen in Kiel\n\n"
        "Am 20. März 2025 trafen sich 45 Unternehmerinnen und Unternehmer in Kiel zum Netzwerktreffen "
        "der Meereswirtschaft. Mit dem Innovationspreis ausgezeichnet wurde die Nordlicht GmbH für ihre "
        "Unterwasserdrohne.\n"
    ),
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("kinds")
    return Assistant.open(lexical_index(write_corpus(root / "corpus", DOCUMENTS), root / "index"))


@pytest.fixture(scope="module")
def shipped(index_settings: Settings) -> Assistant:
    return Assistant.open(index_settings)


def ask(assistant: Assistant, question: str, today: date = TODAY) -> Answer:
    answer = assistant.ask(question, today=today)
    check_short_answer(assistant, answer)
    return answer


def check_short_answer(assistant: Assistant, answer: Answer) -> None:
    """The short answer is the first line, lies inside the sentence its citation quotes, and is
    that document's text at its offsets."""
    short = answer.short_answer
    if short is None:
        return
    assert answer.text.splitlines()[0] == short.text
    citation = answer.citations[short.n - 1]
    assert citation.start <= short.start < short.end <= citation.end
    assert assistant.index.documents[citation.doc_id].text[short.start : short.end] == short.text
    assert short.text.strip() and short.text in citation.quote


def docs(answer: Answer) -> list[str]:
    return [c.doc_id for c in answer.citations]


# --- deadlines ----------------------------------------------------------------------------------


def test_a_running_deadline_counts_the_days_left(cluster):
    answer = ask(cluster, "Bis wann können Anträge für den Digitalbonus eingereicht werden?")
    assert not answer.abstained and docs(answer)[0] == CALL
    assert "31. Januar 2027" in answer.citations[0].quote
    assert answer.short_answer is not None and "31. Januar 2027" in answer.short_answer.text
    assert "Diese Frist läuft noch (61 Tage ab heute, dem 1. Dezember 2026)." in answer.text


def test_a_passed_deadline_says_so(cluster):
    answer = ask(cluster, "Bis wann kann man sich zum Workshop anmelden?", today=date(2027, 3, 1))
    assert docs(answer)[0] == WORKSHOP
    assert "5. Februar 2027" in answer.text
    assert "Diese Frist ist abgelaufen (heute ist der 1. März 2027)." in answer.text


def test_an_event_date_is_not_passed_off_as_a_deadline(shipped):
    """The training's date answers "Wann ist die Anmeldefrist?" only as a date, not as the deadline."""
    answer = ask(shipped, "Wann ist die Anmeldefrist für das Cluster Excellence Training?", today=date(2022, 6, 1))
    assert not answer.abstained
    assert answer.short_answer is None
    assert "Frist ist abgelaufen" not in answer.text and "Frist läuft noch" not in answer.text
    assert "Eine Frist nennt diese Stelle nicht, nur einen Termin; er liegt zurück" in answer.text


# --- what lies ahead ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    ["Welche Veranstaltungen finden demnächst statt?", "Was steht demnächst an?", "Welche Termine stehen an?"],
)
def test_without_a_topic_every_dated_document_counts(cluster, question):
    """No document says "Veranstaltung": the dates ahead of today come from all of them, soonest first."""
    answer = ask(cluster, question)
    assert answer.text.startswith("Ab heute (1. Dezember 2026) nennen die Dokumente diese Termine:")
    lines = answer.text.splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["- 31. Januar 2027", "- 5. Februar 2027", "- 12. Februar 2027"]
    assert docs(answer) == [CALL, WORKSHOP, WORKSHOP]
    assert "20. März 2025" not in answer.text  # before today


def test_without_a_topic_only_dated_documents_are_read(cluster):
    """The dated documents come from the index's date table: a document without a date is not
    read from disk (at 10,000 documents reading them all would be the whole answer's cost)."""
    store = cluster.index.documents
    store.by_number.cache_clear()
    ask(cluster, "Was steht demnächst an?")
    read = {store.ids[n] for n in range(len(store.ids)) if _in_cache(store, n)}
    assert read and "impressum.txt" not in read
    assert read <= {CALL, WORKSHOP, MEETING}


def _in_cache(store, number: int) -> bool:
    """Whether the store had decoded document ``number`` since its cache was cleared."""
    before = store.by_number.cache_info().hits
    store.by_number(number)
    return store.by_number.cache_info().hits > before


def test_with_a_topic_only_its_documents(cluster):
    answer = ask(cluster, "Welche Workshops zu Wasserstoff gibt es demnächst?")
    assert set(docs(answer)) == {WORKSHOP}
    assert "12. Februar 2027" in answer.text


def test_nothing_ahead_names_the_latest_date_before_today(cluster):
    answer = ask(cluster, "Welche Termine stehen als nächste an?", today=date(2027, 6, 1))
    assert answer.text.startswith("In den Dokumenten finde ich keine Termine ab heute (1. Juni 2027).")
    assert "Der jüngste genannte Termin: 12. Februar 2027." in answer.text
    assert docs(answer) == [WORKSHOP]


# --- definitions, procedures, facts --------------------------------------------------------------


def test_definition_quotes_the_defining_sentence(cluster):
    answer = ask(cluster, "Was ist der Digitalbonus Mittelstand?")
    assert docs(answer)[0] == CALL
    assert answer.citations[0].quote.startswith("Der Digitalbonus Mittelstand ist ein Förderprogramm")


def test_procedure_quotes_how_to_take_part(cluster):
    answer = ask(cluster, "Wie können Unternehmen am Digitalbonus teilnehmen?")
    assert any("indem sie zunächst eine Projektskizze" in c.quote for c in answer.citations)


def test_an_amount_is_answered_with_the_amount(cluster):
    answer = ask(cluster, "Wie hoch ist die Förderung beim Digitalbonus?")
    assert answer.short_answer is not None and "10.000 Euro" in answer.short_answer.text
    assert "bis zu 10.000 Euro" in answer.citations[answer.short_answer.n - 1].quote


@pytest.mark.parametrize(
    "question",
    [
        "Wie viele Unternehmer trafen sich in Kiel?",
        "Wie viele Unternehmerinnen trafen sich in Kiel?",
        "Wie viele Unternehmer*innen trafen sich in Kiel?",
        "Wie viele Unternehmer:innen trafen sich in Kiel?",
    ],
)
def test_counts_with_every_gender_form(cluster, question):
    answer = ask(cluster, question)
    assert docs(answer)[0] == MEETING
    assert answer.short_answer is not None and answer.short_answer.text == "45"


def test_who_won(cluster):
    answer = ask(cluster, "Wer wurde mit dem Innovationspreis ausgezeichnet?")
    assert answer.short_answer is not None and "Nordlicht GmbH" in answer.short_answer.text


def test_a_number_no_document_names_is_not_passed_off(shipped):
    """No passage says how many members NIRO has: no sentence passes for the answer; the closest
    passages stay listed."""
    answer = ask(shipped, "Wie viele Mitglieder hat NIRO?")
    assert answer.abstained and answer.short_answer is None and not answer.citations
    assert answer.hits and answer.hits[0].chunk.doc_id == "2022-10-niro-clustererfolg.txt"


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Wie viele Vertreter*innen aus Unternehmen kamen zum Sommerempfang?", "80"),
        ("Wie viele Mitarbeiterinnen und Mitarbeiter trafen sich beim Jahrestreffen von go-cluster 2022?", "60"),
        ("Wie viele Zuschauer hatte der Pitch des Digitalwerks?", None),
    ],
)
def test_shipped_counts(shipped, question, expected):
    answer = ask(shipped, question)
    assert not answer.abstained
    if expected is not None:
        assert answer.short_answer is not None and expected in answer.short_answer.text
    numbers = re.findall(r"\d+", answer.text.splitlines()[0])
    assert numbers, answer.text


def test_shipped_procedure_quotes_the_step_that_shares_no_word_with_the_question(shipped):
    """ "Als erster Schritt des Aufnahmeprozesses wird empfohlen sich zu einem Beratungsgespräch
    zu melden" holds none of the question's words: lexically its passage is 9th and its sentence
    last. The passage naming procedures is scored up (pipeline.steps_first) and its sentence put
    first (candidates.MIN_STEP_CUES); the short answer, if any, lies in it."""
    answer = ask(shipped, "Wie kann ein Unternehmen am go-cluster Programm teilnehmen?")
    assert docs(answer)[0] == "2022-05-go-cluster-eccp-infoveranstaltung.txt"
    assert "Beratungsgespräch" in answer.citations[0].quote
    assert answer.short_answer is None or answer.short_answer.n == 1


def test_a_report_sentence_with_one_procedure_word_is_not_taken_for_the_steps(shipped):
    """ "Wie können Unternehmen im Digitalwerk Werder digitale Lösungen kennenlernen?" is answered
    by the sentence that says so, not by one that merely names a procedure word."""
    answer = ask(shipped, "Wie können Unternehmen im Digitalwerk Werder digitale Lösungen kennenlernen?")
    assert "direkt ausprobiert" in answer.citations[0].quote


def test_a_picture_credit_is_never_the_answer(shipped):
    """ "© BalticNet-PlasmaTec e.V. / Kinga Kristó" is short and full of the question's names; it
    was the best-scored sentence for this question (candidates._CREDIT)."""
    answer = ask(shipped, "Wer ist der Geschäftsführer von BalticNet-PlasmaTec?")
    assert all("©" not in c.quote for c in answer.citations)
    assert answer.short_answer is None or "Kristó" not in answer.short_answer.text


def test_shipped_definition_answers_from_the_defining_sentence(shipped):
    """ "COSME ist das EU-Programm …" was the first sentence, but the short answer came from
    another one ("Projektkonsortien (INNO-DROP und CLUSGRID) …"): a definition's short answer lies
    in the sentence that defines the subject (candidates._definition_first)."""
    cosme = ask(shipped, "Was ist COSME?")
    assert cosme.citations[0].quote.startswith("COSME ist das EU-Programm")
    assert cosme.short_answer is not None and cosme.short_answer.n == 1
    cluster = ask(shipped, "Was ist go-cluster?")
    assert "clusterpolitische Exzellenzmaßnahme" in cluster.citations[0].quote
    assert "Exzellenzmaßnahme" in (cluster.short_answer.text if cluster.short_answer else "")


@pytest.mark.parametrize(
    "subject, text, defines",
    [
        ("COSME", "COSME ist das EU-Programm für die Förderung von KMU.", True),
        ("Wendelantenne", "Eine Wendelantenne ist eine Antenne mit einem Leiter in Form einer Schraube.", True),
        ("Digitalwerk", "Das „Digitalwerk“ bezeichnet ein Projekt des ifii.", True),
        ("go-cluster", "Gerdes stellte das Programm go-cluster, die Exzellenzmaßnahme des BMWK, vor.", True),
        ("COSME", "Zehn Cluster aus zwei COSME Projektkonsortien trafen sich.", False),
        ("COSME", "Das COSME-Projekt ist beendet.", False),
    ],
)
def test_what_counts_as_defining_the_subject(subject, text, defines):
    from assistant.answer.candidates import _definition_pattern

    assert bool(_definition_pattern(subject).search(text)) is defines
