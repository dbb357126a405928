"""Understanding a question: what it asks for, which dates it names, whether it wants the
latest or earliest, and whether it follows up on the previous question."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.search.query import content_words, is_follow_up, names_topic, previous_questions, understand

TODAY = date(2024, 6, 15)
FIRST = "Wann fand das Jahrestreffen von go-cluster 2022 statt?"


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Wann fand das Jahrestreffen statt?", "when"),
        ("Seit wann gibt es das Digitalwerk Werder?", "when"),
        ("An welchem Tag war die Infoveranstaltung?", "when"),
        ("In welchem Jahr wurde NIRO ausgezeichnet?", "when"),
        ("Wer wurde zum ClusterERFOLG 2022 gewählt?", "who"),
        ("Von wem wurde go-cluster vorgestellt?", "who"),
        ("Wem wurde der Buddy-Bär verliehen?", "who"),
        ("Wo fand der Sommerempfang statt?", "where"),
        ("In welcher Stadt findet die European Cluster Conference statt?", "where"),
        ("Wie viele Zuschauer hatte der Pitch?", "number"),
        ("Wieviele Cluster trafen sich in Berlin?", "number"),
        ("Wie hoch ist das Budget von COSME?", "number"),
        ("Warum ist Brandenburg ein Flächenland?", "why"),
        ("Weshalb gibt es die starkeRegion-Plattform?", "why"),
        ("Und wann?", "when"),
        ("Was ist COSME?", "definition"),
        ("Wofür steht CLUSGRID?", "definition"),
        ("Was versteht man unter Cluster Excellence?", "definition"),
        ("Wie kann ein Unternehmen am go-cluster Programm teilnehmen?", "procedure"),
        ("Wie bewirbt man sich für den ClusterERFOLG?", "procedure"),
        ("Was muss ich tun, um aufgenommen zu werden?", "procedure"),
        ("Wie hilft das Digitalwerk Werder kleinen Unternehmen?", "other"),
        ("Welche Projekte stellte das ifii vor?", "other"),
    ],
)
def test_kind(question, kind):
    assert understand(question, today=TODAY).kind == kind


@pytest.mark.parametrize(
    "question, start, end, label",
    [
        ("Welche Veranstaltungen gab es 2022?", date(2022, 1, 1), date(2022, 12, 31), "2022"),
        ("Was fand im April 2017 statt?", date(2017, 4, 1), date(2017, 4, 30), "April 2017"),
        ("Was war am 9. Mai 2022?", date(2022, 5, 9), date(2022, 5, 9), "9. Mai 2022"),
        ("Was war vom 25. bis 28. April 2017?", date(2017, 4, 25), date(2017, 4, 28), "25. bis 28. April 2017"),
        ("Welche Termine gibt es dieses Jahr?", date(2024, 1, 1), date(2024, 12, 31), "2024"),
        ("Was geschah in diesem Jahr?", date(2024, 1, 1), date(2024, 12, 31), "2024"),
        ("Was gab es letztes Jahr?", date(2023, 1, 1), date(2023, 12, 31), "2023"),
        ("Was war im Vorjahr?", date(2023, 1, 1), date(2023, 12, 31), "2023"),
        ("Was war am 20. Oktober?", date(2024, 10, 20), date(2024, 10, 20), "20. Oktober"),
    ],
)
def test_date_ranges(question, start, end, label):
    intent = understand(question, today=TODAY)
    assert (intent.date_from, intent.date_to, intent.date_label) == (start, end, label)
    assert intent.about_dates


def test_this_year_follows_today():
    assert understand("Welche Termine gibt es dieses Jahr?", today=date(2022, 3, 1)).date_from == date(2022, 1, 1)
    assert understand("Welche Termine gibt es dieses Jahr?", today=date(2022, 3, 1)).date_to == date(2022, 12, 31)


@pytest.mark.parametrize(
    "question",
    [
        "Was ist COSME?",
        "Wer wurde zum ClusterERFOLG gewählt?",
        "Was passierte im Jahr der Gründung?",  # "im Jahr" alone is no date
    ],
)
def test_no_dates(question):
    intent = understand(question, today=TODAY)
    assert (intent.date_from, intent.date_to, intent.date_label) == (None, None, None)


@pytest.mark.parametrize(
    "question, order",
    [
        ("Was war die letzte Veranstaltung zum Thema Nachhaltigkeit?", "latest"),
        ("Welches ist die neueste Meldung?", "latest"),
        ("Wann war das jüngste Treffen?", "latest"),
        ("Was war die erste Veranstaltung?", "earliest"),
        ("Welches ist die älteste Meldung?", "earliest"),
        ("Was ist COSME?", None),
        ("Welche Veranstaltungen gab es 2022?", None),
        ("Was gab es letztes Jahr?", None),  # a date range, not "the latest"
        ("Was war im letzten Jahr los?", None),
    ],
)
def test_order(question, order):
    assert understand(question, today=TODAY).order == order


def test_upcoming_events_start_today():
    intent = understand("Wann ist die nächste Konferenz?", today=TODAY)
    assert intent.upcoming and intent.order is None
    assert intent.date_from == TODAY and intent.date_to is None and intent.today == TODAY
    assert intent.kind == "when"


@pytest.mark.parametrize(
    "question, upcoming",
    [
        ("Welche Veranstaltungen finden demnächst statt?", True),
        ("Welche Förderprogramme sind aktuell offen?", True),
        ("Gibt es kommende Workshops?", True),
        ("Vor welchen Herausforderungen stehen Unternehmen aktuell?", False),  # "aktuell", but no event
        ("Welche Veranstaltungen gab es 2022?", False),
        ("Was war die letzte Veranstaltung?", False),
        ("Was steht demnächst an?", True),
        ("Welche Termine stehen an?", True),
        ("Welche Veranstaltungen sind geplant?", True),
        ("Was kommt als Nächstes?", True),
        ("Was ist COSME?", False),
    ],
)
def test_upcoming_is_about_events_deadlines_and_programmes(question, upcoming):
    assert understand(question, today=TODAY).upcoming is upcoming


@pytest.mark.parametrize(
    "question, topic",
    [
        ("Welche Veranstaltungen finden demnächst statt?", False),
        ("Welche Termine stehen als nächste an?", False),
        ("Was steht demnächst an?", False),
        ("Welche Treffen sind geplant?", False),
        ("Welche Workshops zu Wasserstoff gibt es demnächst?", True),
        ("Welche Fristen laufen aktuell?", True),
        ("Welche Förderprogramme sind aktuell offen?", True),
    ],
)
def test_names_topic(question, topic):
    """Without a topic a question about what lies ahead looks at every dated document."""
    assert names_topic(question) is topic


@pytest.mark.parametrize(
    "question, subject",
    [
        ("Was ist COSME?", "COSME"),
        ("Was ist das Digitalwerk Werder?", "Digitalwerk Werder"),
        ("Wofür steht CLUSGRID?", "CLUSGRID"),
        ("Was versteht man unter der ESCA Zertifizierung?", "ESCA Zertifizierung"),
        ("Wo fand der Sommerempfang statt?", None),
    ],
)
def test_definition_subject(question, subject):
    assert understand(question, today=TODAY).subject == subject


@pytest.mark.parametrize(
    "question, noun",
    [
        ("Welche Förderprogramme gibt es für KMU?", "Förderprogramme"),
        ("Welche Projekte gibt es im Netzwerk?", "Projekte"),
        ("Welche Partner werden genannt?", None),
        ("Welche Projekte stellte das ifii vor?", None),  # one document answers it
        ("Welche Veranstaltungen gab es 2022?", None),  # the event list by date instead
    ],
)
def test_list_across_documents(question, noun):
    assert understand(question, today=TODAY).list_of == noun


@pytest.mark.parametrize(
    "question, deadline",
    [
        ("Bis wann kann man sich bewerben?", True),
        ("Wann endet die Antragsfrist?", True),
        ("Wann ist Einsendeschluss?", True),
        ("Wann fand das Jahrestreffen statt?", False),
    ],
)
def test_deadline_questions(question, deadline):
    assert understand(question, today=TODAY).deadline is deadline


@pytest.mark.parametrize(
    "question, listed",
    [
        ("Welche Veranstaltungen gab es 2022?", True),
        ("Was fand im April 2017 statt?", True),
        ("Was gab es letztes Jahr?", True),
        ("Welche Veranstaltungen gibt es?", False),  # no date range: nothing to list by
        ("Was war die letzte Veranstaltung 2022?", False),  # one, not a list
        ("Wer wurde 2022 ausgezeichnet?", False),
    ],
)
def test_list_events(question, listed):
    assert understand(question, today=TODAY).list_events is listed


def test_no_history_means_no_follow_up():
    intent = understand("Und wer wurde dort ausgezeichnet?", today=TODAY, previous_docs=["a.txt"])
    assert not intent.follow_up
    assert intent.carried_terms == () and intent.previous_docs == ()
    assert intent.search_text == "Und wer wurde dort ausgezeichnet?"


@pytest.mark.parametrize(
    "question",
    [
        "Und wer wurde dort ausgezeichnet?",
        "Und wann?",
        "Wer war dabei?",
        "Wann war das?",
        "Wer hat gewonnen?",
        "Wie viele Teilnehmer?",
        "Was gab es dort außerdem?",
    ],
)
def test_follow_ups_carry_the_previous_topic(question):
    intent = understand(question, [FIRST], today=TODAY, previous_docs=["2022-10-niro-clustererfolg.txt"])
    assert intent.follow_up, question
    assert {"Jahrestreffen", "go-cluster"} <= set(intent.carried_terms)
    assert intent.search_text.startswith(question)
    assert "Jahrestreffen" in intent.search_text and "go-cluster" in intent.search_text
    assert intent.previous_docs == ("2022-10-niro-clustererfolg.txt",)
    # the previous question's date range comes along when the follow-up names none
    assert (intent.date_from, intent.date_to) == (date(2022, 1, 1), date(2022, 12, 31))


@pytest.mark.parametrize(
    "question",
    [
        "Wo fand der Sommerempfang statt?",
        "Was ist COSME?",
        "Was ist das Digitalwerk Werder?",
        "Wie viele Zuschauer hatte der Pitch des Digitalwerks?",
        "Welche Ziele hat COSME?",
    ],
)
def test_questions_of_their_own_do_not_carry_the_previous_topic(question):
    intent = understand(question, [FIRST], today=TODAY, previous_docs=["2022-10-niro-clustererfolg.txt"])
    assert not intent.follow_up, question
    assert intent.carried_terms == ()
    assert intent.search_text == question
    assert intent.previous_docs == ()
    assert intent.date_from is None  # 2022 from the earlier question must not narrow the search


def test_follow_up_keeps_its_own_date():
    intent = understand("Und was war im April 2017?", [FIRST], today=TODAY)
    assert intent.follow_up
    assert (intent.date_from, intent.date_to) == (date(2017, 4, 1), date(2017, 4, 30))


def test_follow_up_does_not_repeat_its_own_words():
    intent = understand("Und wann fand das Jahrestreffen 2021 statt?", [FIRST], today=TODAY)
    assert intent.follow_up
    assert "Jahrestreffen" not in intent.carried_terms
    assert "go-cluster" in intent.carried_terms


def test_chained_follow_ups_keep_the_original_topic():
    history = [FIRST, "Und wer wurde dort ausgezeichnet?"]
    intent = understand("Und wann?", history, today=TODAY)
    assert intent.follow_up
    assert "ausgezeichnet" in intent.carried_terms
    assert {"Jahrestreffen", "go-cluster"} <= set(intent.carried_terms)


def test_generic_words_are_not_carried():
    intent = understand("Und wo?", ["Wie viele Zuschauer hatte der Pitch des Digitalwerks?"], today=TODAY)
    assert intent.follow_up
    assert "viele" not in intent.carried_terms
    assert {"Zuschauer", "Pitch", "Digitalwerks"} <= set(intent.carried_terms)


@pytest.mark.parametrize(
    "history",
    [
        [FIRST],
        [(FIRST, "Am 20. Oktober 2022 [1]")],
        [[FIRST, {"answer": "…"}]],
        [{"role": "user", "content": FIRST}, {"role": "assistant", "content": "Am 20. Oktober 2022."}],
    ],
)
def test_history_formats(history):
    assert previous_questions(history) == [FIRST]
    intent = understand("Und wer wurde dort ausgezeichnet?", history, today=TODAY)
    assert intent.follow_up and "Jahrestreffen" in intent.carried_terms


def test_previous_questions_ignores_what_is_no_question():
    history = [
        None,
        42,
        {"role": "assistant", "content": "Antwort"},
        {"role": "user", "content": None},
        (),
        ("Frage eins?", "Antwort"),
        {"role": "user", "content": "Frage zwei?"},
    ]
    assert previous_questions(history) == ["Frage eins?", "Frage zwei?"]
    assert previous_questions(None) == []


def test_is_follow_up_and_content_words():
    assert is_follow_up("Und dann?")
    assert is_follow_up("Was wurde dabei besprochen?")
    assert not is_follow_up("Welche Ziele verfolgt das Programm COSME?")
    assert content_words("Wer wurde zum ClusterERFOLG 2022 gewählt?") == ["ClusterERFOLG", "2022", "gewählt"]
    assert content_words("Wo ist es?") == []
