"""Extractive answers over the shipped corpus (lexical index, no model): citations with exact
offsets, honest abstention, follow-up questions, date questions, and `assistant ask`."""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import date
from pathlib import Path

import pytest

from assistant.answer.compose import ABSTAIN_TEXT
from assistant.cli import main
from assistant.config import Settings
from assistant.index.reader import load_index
from assistant.pipeline import Assistant
from assistant.types import Answer

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
NIRO = "2022-10-niro-clustererfolg.txt"
GO_CLUSTER = "2022-05-go-cluster-eccp-infoveranstaltung.txt"
CAMP = "2020-cross-cluster-camp-ifii.txt"
BALTIC = "2017-05-balticnet-plasmatec-cluster-excellence-training.txt"
SOMMER = "in-die-region-westfalen-sommerempfang.txt"
TODAY = date(2024, 6, 15)
JAHRESTREFFEN = "Wann fand das Jahrestreffen von go-cluster 2022 statt?"
FOLLOW_UP = "Und wer wurde dort ausgezeichnet?"

CITATION_KEYS = {"n", "doc_id", "chunk_id", "title", "date", "start", "end", "quote", "url"}
HIT_KEYS = {"doc_id", "chunk_id", "start", "end", "score", "text"}


@pytest.fixture(scope="module")
def assistant(index_settings: Settings) -> Assistant:
    opened = Assistant.open(index_settings)
    assert opened.warnings == []
    return opened


def ask(assistant: Assistant, question: str, history=()) -> Answer:
    answer = assistant.ask(question, history, today=TODAY)
    check_answer(assistant, answer)
    return answer


def check_answer(assistant: Assistant, answer: Answer) -> None:
    """What every answer must satisfy: exact citation offsets, chunks of the cited document,
    markers [1..N] in order of first mention, and the JSON shape."""
    chunks = {c.id: c for c in assistant.index.chunks}
    for i, citation in enumerate(answer.citations, start=1):
        assert citation.n == i
        doc = assistant.index.documents[citation.doc_id]
        assert citation.quote == doc.text[citation.start : citation.end]
        assert citation.quote.strip()
        assert citation.title == doc.title
        chunk = chunks[citation.chunk_id]
        assert chunk.doc_id == citation.doc_id
        assert chunk.start <= citation.start < chunk.end
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.text)]
    first_mentions = list(dict.fromkeys(markers))
    assert first_mentions == list(range(1, len(answer.citations) + 1)), answer.text
    for hit in answer.hits:
        assert hit.chunk.text == assistant.index.documents[hit.chunk.doc_id].text[hit.chunk.start : hit.chunk.end]

    data = json.loads(json.dumps(answer.to_json(), ensure_ascii=False))
    assert {"answer", "abstained", "citations", "hits"} <= set(data)
    assert data["answer"] == answer.text and data["abstained"] is answer.abstained
    assert len(data["citations"]) == len(answer.citations)
    for item, citation in zip(data["citations"], answer.citations, strict=False):
        assert set(item) >= CITATION_KEYS
        assert (item["n"], item["doc_id"], item["chunk_id"], item["start"], item["end"], item["quote"]) == (
            citation.n,
            citation.doc_id,
            citation.chunk_id,
            citation.start,
            citation.end,
            citation.quote,
        )
    assert len(data["hits"]) == len(answer.hits)
    for item, hit in zip(data["hits"], answer.hits, strict=False):
        assert set(item) >= HIT_KEYS
        assert item["text"] == hit.chunk.text and item["chunk_id"] == hit.chunk.id
        assert isinstance(item["score"], float)


def cited_docs(answer: Answer) -> list[str]:
    return [c.doc_id for c in answer.citations]


# --- citations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Wer wurde zum ClusterERFOLG 2022 gewählt?",
        "Wie viele Zuschauer hatte der Pitch des Digitalwerks?",
        "Wo fand der Sommerempfang statt?",
        "Wie hoch ist das Budget von COSME?",
        "Wie viele Clusterorganisationen umfasst die Cluster Map?",
        "Warum ist der Austausch in Brandenburg nicht einfach?",
        "Welche Veranstaltungen gab es 2022?",
        "Was fand im April 2017 statt?",
    ],
)
def test_citations_point_at_the_quoted_text(assistant, question):
    answer = ask(assistant, question)
    assert not answer.abstained
    assert 1 <= len(answer.citations) <= 5
    assert answer.mode == "extractive"
    for citation in answer.citations:
        # the quoted sentence is in the answer, whitespace normalised
        assert " ".join(citation.quote.split()) in answer.text


def test_citation_date_and_title(assistant):
    answer = ask(assistant, "Wie viele Clusterorganisationen umfasst die Cluster Map?")
    citation = answer.citations[0]
    assert citation.doc_id == GO_CLUSTER
    assert citation.date == "9. Mai 2022"
    assert citation.title.startswith("Infoveranstaltung zum Programm go-cluster")
    assert "1300" in citation.quote and "1300" in answer.text


# --- abstention ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Wer hat die Fußball-WM 2014 gewonnen?",
        "Wie hoch ist der Mindestlohn?",
        "Wie beantrage ich Bürgergeld?",
        "Wie lautet die Telefonnummer von NIRO?",
    ],
)
def test_out_of_scope_questions_abstain(assistant, question):
    answer = ask(assistant, question)
    assert answer.abstained is True
    assert answer.text == ABSTAIN_TEXT == "In den vorliegenden Dokumenten finde ich dazu keine Angaben."
    assert answer.citations == ()
    assert answer.to_json()["citations"] == []


@pytest.mark.parametrize(
    "question",
    [
        "Wer hat die Fußball-WM 2014 gewonnen?",
        "Wie lautet die Telefonnummer von NIRO?",
    ],
)
def test_abstention_still_lists_the_closest_passages(assistant, question):
    answer = ask(assistant, question)
    assert answer.abstained and len(answer.hits) >= 1
    assert len(answer.to_json()["hits"]) == len(answer.hits)


def test_abstention_hits_point_to_niro_for_its_phone_number(assistant):
    answer = ask(assistant, "Wie lautet die Telefonnummer von NIRO?")
    assert answer.hits[0].chunk.doc_id == NIRO


@pytest.mark.parametrize(
    "question, doc_id, expected",
    [
        ("Wer wurde zum ClusterERFOLG 2022 gewählt?", NIRO, ["NIRO"]),
        ("Wie viele Zuschauer hatte der Pitch des Digitalwerks?", CAMP, ["50"]),
        ("Wo fand der Sommerempfang statt?", SOMMER, ["Zeche Zollern", "Dortmund"]),
        ("Wann fand das Jahrestreffen von go-cluster 2022 statt?", NIRO, ["20. Oktober 2022"]),
        ("Wo findet die European Cluster Conference 2022 statt?", GO_CLUSTER, ["Prag"]),
        ("Wie hoch ist das Budget von COSME?", BALTIC, ["2,3 Mrd. €"]),
        ("Warum ist der Austausch in Brandenburg nicht einfach?", CAMP, ["Flächenland"]),
    ],
)
def test_in_scope_questions_cite_the_right_document(assistant, question, doc_id, expected):
    answer = ask(assistant, question)
    assert not answer.abstained, question
    assert answer.text != ABSTAIN_TEXT
    assert cited_docs(answer)[0] == doc_id
    for fact in expected:
        assert fact in answer.text, (fact, answer.text)
    # the fact comes from a cited sentence (or, for a date, the cited document's date)
    assert any(fact in c.quote or fact == c.date for c in answer.citations for fact in expected)


def test_when_question_cites_the_sentence_with_the_date(assistant):
    answer = ask(assistant, JAHRESTREFFEN)
    assert any("20. Oktober 2022" in c.quote for c in answer.citations)


# --- follow-ups ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_answer(assistant) -> Answer:
    return ask(assistant, JAHRESTREFFEN)


def assert_niro_follow_up(answer: Answer) -> None:
    assert not answer.abstained
    assert answer.citations[0].doc_id == NIRO
    assert "NIRO" in answer.text
    assert any("NIRO" in c.quote for c in answer.citations)


def test_follow_up_with_answer_pairs(assistant, first_answer):
    answer = ask(assistant, FOLLOW_UP, [(JAHRESTREFFEN, first_answer)])
    assert_niro_follow_up(answer)


def test_follow_up_with_chat_messages(assistant, first_answer):
    history = [{"role": "user", "content": JAHRESTREFFEN}, {"role": "assistant", "content": first_answer.text}]
    assert_niro_follow_up(ask(assistant, FOLLOW_UP, history))


def test_follow_up_with_chat_messages_carrying_citations(assistant, first_answer):
    history = [
        {"role": "user", "content": JAHRESTREFFEN},
        {"role": "assistant", "content": first_answer.text, "metadata": first_answer.to_json()},
    ]
    assert_niro_follow_up(ask(assistant, FOLLOW_UP, history))


def test_follow_up_with_plain_strings(assistant):
    assert_niro_follow_up(ask(assistant, FOLLOW_UP, [JAHRESTREFFEN]))


def test_follow_up_with_json_answers(assistant, first_answer):
    assert_niro_follow_up(ask(assistant, FOLLOW_UP, [[JAHRESTREFFEN, first_answer.to_json()]]))


def test_without_history_the_follow_up_lacks_its_topic(assistant):
    # Without the first question "dort" refers to nothing: the answer must not be the same as
    # with history (otherwise the history test proves nothing).
    alone = assistant.ask(FOLLOW_UP, today=TODAY)
    with_history = assistant.ask(FOLLOW_UP, [JAHRESTREFFEN], today=TODAY)
    # The carried topic ("Jahrestreffen go-cluster 2022") picks the sentence about the meeting.
    assert "Jahrestreffen" in " ".join(c.quote for c in with_history.citations)
    assert "Jahrestreffen" not in " ".join(c.quote for c in alone.citations)


@pytest.mark.parametrize(
    "question, doc_id, expected",
    [
        ("Wo fand der Sommerempfang statt?", SOMMER, "Zeche Zollern"),
        ("Was ist COSME?", BALTIC, "COSME"),
        ("Wie viele Zuschauer hatte der Pitch des Digitalwerks?", CAMP, "50"),
    ],
)
def test_new_topic_does_not_carry_the_previous_one(assistant, first_answer, question, doc_id, expected):
    answer = ask(assistant, question, [(JAHRESTREFFEN, first_answer)])
    assert not answer.abstained
    assert cited_docs(answer)[0] == doc_id
    assert NIRO not in cited_docs(answer)
    assert expected in answer.text
    assert "Jahrestreffen" not in answer.text
    assert answer.text == assistant.ask(question, today=TODAY).text  # the same as without history


# --- dates --------------------------------------------------------------------------------------


def test_events_of_a_year(assistant):
    answer = ask(assistant, "Welche Veranstaltungen gab es 2022?")
    assert not answer.abstained
    assert cited_docs(answer) == [GO_CLUSTER, NIRO]  # in date order
    assert "9. Mai 2022" in answer.citations[0].quote
    assert "20. Oktober 2022" in answer.citations[1].quote
    assert "9. Mai 2022" in answer.text and "20. Oktober 2022" in answer.text
    assert "2017" not in answer.text and BALTIC not in cited_docs(answer)
    assert "2022" in answer.text.splitlines()[0]


def test_events_of_a_month(assistant):
    answer = ask(assistant, "Was fand im April 2017 statt?")
    assert not answer.abstained
    assert cited_docs(answer) == [BALTIC]
    assert "April 2017" in answer.text
    assert "25. bis 28. April 2017" in answer.citations[0].quote


def test_events_of_this_year_follow_today(assistant):
    answer = assistant.ask("Welche Veranstaltungen gab es dieses Jahr?", today=date(2022, 12, 1))
    check_answer(assistant, answer)
    assert set(cited_docs(answer)) == {GO_CLUSTER, NIRO}


def test_latest_event_on_a_topic(assistant):
    answer = ask(assistant, "Was war die letzte Veranstaltung zum Thema Nachhaltigkeit?")
    assert not answer.abstained
    assert answer.citations[0].doc_id == NIRO
    assert "20. Oktober 2022" in answer.text


# --- command line -------------------------------------------------------------------------------


def cli_args(settings: Settings, *extra: str) -> list[str]:
    return [
        "--index",
        str(settings.index_dir),
        "--corpus",
        str(settings.corpus_dir),
        "--model",
        "none",
        "--answer-mode",
        "extractive",
        *extra,
    ]


def test_cli_ask_json(index_settings, capsys):
    code = main(["ask", "Wer wurde zum ClusterERFOLG 2022 gewählt?", *cli_args(index_settings, "--json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["question"] == "Wer wurde zum ClusterERFOLG 2022 gewählt?"
    assert data["abstained"] is False
    assert "NIRO" in data["answer"] and "[1]" in data["answer"]
    assert data["citations"] and set(data["citations"][0]) >= CITATION_KEYS
    assert data["citations"][0]["doc_id"] == NIRO
    index = load_index(index_settings.index_dir)
    try:  # offsets into the document's text: the file's, less its boilerplate lines (ingest/boilerplate.py)
        source = index.documents[NIRO].text
    finally:
        index.close()
    assert source.startswith("\nNIRO zum ClusterERFOLG 2022 gewählt")  # "Skip to main content" is gone
    for citation in data["citations"]:
        assert source[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["url"] is None  # no sidecar beside the shipped corpus
    assert data["hits"] and set(data["hits"][0]) >= HIT_KEYS


def test_cli_ask_text(index_settings, capsys):
    code = main(["ask", "Wo fand der Sommerempfang statt?", *cli_args(index_settings)])
    out, err = capsys.readouterr()
    assert code == 0, err
    answer, _, sources = out.partition("\nQuellen:\n")
    assert "Zeche Zollern" in answer and "[1]" in answer
    assert sources.startswith("[1] ")
    assert SOMMER in sources
    assert "„Am vergangenen Mittwoch fand der Sommerempfang" in sources
    assert "Möglicherweise hilfreich" not in out


def test_cli_ask_abstains_with_suggestions(index_settings, capsys):
    code = main(["ask", "Wie lautet die Telefonnummer von NIRO?", *cli_args(index_settings)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(ABSTAIN_TEXT)
    assert "Quellen:" not in out
    suggestions = out.split("Möglicherweise hilfreich:\n", 1)[1].strip().splitlines()
    assert 1 <= len(suggestions) <= 3
    assert all(line.startswith("- ") for line in suggestions)
    assert NIRO in suggestions[0]


def test_cli_dialog_answers_follow_ups(index_settings, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{JAHRESTREFFEN}\n{FOLLOW_UP}\n"))
    code = main(["ask", *cli_args(index_settings, "--json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [line["question"] for line in lines] == [JAHRESTREFFEN, FOLLOW_UP]
    second = lines[1]
    assert second["abstained"] is False
    assert second["citations"][0]["doc_id"] == NIRO
    assert "NIRO" in second["answer"]


def test_cli_dialog_new_conversation_forgets_history(index_settings, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{JAHRESTREFFEN}\nneu\n{FOLLOW_UP}\n\nWird nicht gelesen?\n"))
    code = main(["ask", *cli_args(index_settings, "--json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert "Neues Gespräch." in lines
    answers = [json.loads(line) for line in lines if line.startswith("{")]
    assert [a["question"] for a in answers] == [JAHRESTREFFEN, FOLLOW_UP]  # an empty line ends the dialog
    with_history = assistant_answer(index_settings, FOLLOW_UP, [JAHRESTREFFEN])
    # After "neu" the follow-up stands alone: it does not carry the meeting over (see above).
    assert "Jahrestreffen" in " ".join(c.quote for c in with_history.citations)
    assert "Jahrestreffen" not in " ".join(c["quote"] for c in answers[1]["citations"])


def assistant_answer(settings: Settings, question: str, history) -> Answer:
    return Assistant.open(settings).ask(question, history)


def test_cli_dialog_plain_output(index_settings, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{JAHRESTREFFEN}\n{FOLLOW_UP}\n"))
    code = main(["ask", *cli_args(index_settings)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("Quellen:") == 2
    second = out.split("Quellen:", 1)[1]
    assert "NIRO" in second and NIRO in second
