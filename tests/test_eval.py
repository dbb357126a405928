"""The evaluation harness (`assistant eval`): test-set formats, metrics on hand-computed cases,
bad input, resume, compare mode, reports. Tiny corpora, lexical-only, offline."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import AssistantError, ConfigError, ResumeError, TestSetError
from assistant.eval.metrics import (
    aggregate,
    contains_any,
    doc_ranking,
    exact_match,
    group_fields,
    ndcg,
    normalize,
    normalize_answer,
    percentile,
    score_question,
    token_f1,
    worst_misses,
)
from assistant.eval.run import evaluate
from assistant.eval.testset import Question, load_testset
from assistant.eval.variants import make_variants, parse_set

ROOT = Path(__file__).resolve().parents[1]

DOCS = {
    "foerderung.txt": "Förderprogramm ZIM für den Mittelstand\n\nDas Zentrale Innovationsprogramm Mittelstand (ZIM) "
    "unterstützt kleine und mittlere Unternehmen bei Forschungsprojekten. Die Förderquote beträgt "
    "bis zu 45 Prozent der förderfähigen Kosten. Anträge nimmt die AiF Projekt GmbH in Berlin entgegen.\n",
    "veranstaltung.txt": "Sommerfest des Netzwerks Westfalen\n\nDas Sommerfest des Netzwerks fand am 12. Juli 2023 auf "
    "der Zeche Zollern in Dortmund statt. Zum Sommerfest kamen 80 Gäste aus Wirtschaft und "
    "Wissenschaft. Durch den Abend führte die Moderatorin Petra Lange.\n",
    "sub/projekt.txt": "Projekt SolarNet\n\nDas Projekt SolarNet plant gemeinsame Solarparks für Gewerbegebiete in "
    "Brandenburg. Projektleiterin ist Anna Schmidt von der Hochschule Eberswalde. Das Projekt läuft "
    "bis Ende 2025.\n",
}
QUESTIONS = [
    {
        "id": "a1",
        "question": "Wie hoch ist die Förderquote im ZIM?",
        "answers": ["45 Prozent"],
        "sources": ["foerderung.txt"],
        "category": "foerderung",
    },
    {
        "id": "a2",
        "question": "Wie viele Gäste kamen zum Sommerfest?",
        "answers": ["80"],
        "sources": ["veranstaltung.txt"],
        "category": "veranstaltung",
        "note": "frei",
    },
    {
        "id": "a3",
        "question": "Wer leitet das Projekt SolarNet?",
        "answers": ["Anna Schmidt"],
        "sources": ["sub/projekt.txt"],
        "category": "projekt",
    },
    {
        "id": "a4",
        "question": "Und wer moderierte?",
        "answers": ["Petra Lange"],
        "sources": ["veranstaltung.txt"],
        "category": "veranstaltung",
        "history": ["Wann fand das Sommerfest des Netzwerks statt?"],
    },
    {
        "id": "n1",
        "question": "Wer hat die Fußball-WM 2014 gewonnen?",
        "answers": [],
        "sources": [],
        "category": "unbeantwortbar",
    },
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-document corpus and its test set (JSONL); the index is built by the first run."""
    root = tmp_path_factory.mktemp("eval")
    for name, text in DOCS.items():
        path = root / "corpus" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    write_jsonl(root / "qa.jsonl", QUESTIONS)
    return root


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def variants(root: Path, *sets: str, **overrides):
    return make_variants(
        list(sets),
        k=10,
        env={},
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        model="none",
        reader="none",
        **overrides,
    )


def run(root: Path, out: Path, *sets: str, **kwargs):
    return evaluate(
        root / "qa.jsonl",
        variants(root, *sets),
        out,
        10,
        report=kwargs.pop("report", False),
        log=lambda message: None,
        **kwargs,
    )


# --- text comparison ---------------------------------------------------------------------------


def test_normalize_case_whitespace_punctuation_hyphens():
    assert normalize("  EU-Programm,\n für  KMU! ") == "eu programm für kmu"
    assert normalize("„Zeche Zollern“ (Dortmund).") == "zeche zollern dortmund"
    assert contains_any("Laut „X“: Es ist ein EU-Programm. [1]", ["EU Programm"])
    assert contains_any("Die Förderquote: 45 Prozent.", ["nichts", "45 prozent"])
    assert not contains_any("Die Förderquote: 45 Prozent.", ["46 Prozent"])
    assert not contains_any("irgendwas", ["", "!!"])  # an empty gold string matches nothing


def test_token_f1_hand_computed():
    # prediction tokens: quote ist 45 prozent (4: marker and article "die" removed); gold: 45 prozent
    # (2); common 2; precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5
    assert token_f1("Die Quote ist 45 Prozent. [1]", "45 Prozent") == pytest.approx(1 / 1.5)


def test_exact_match_ignores_case_punctuation_articles_and_markers():
    assert exact_match("Die Zeche Zollern [1]", "zeche zollern")
    assert exact_match("am 20. Oktober 2022.", "am 20 Oktober 2022")
    assert not exact_match("Zeche Zollern in Dortmund", "Zeche Zollern")
    assert normalize_answer("Eines der EU-Programme, das COSME-Programm.") == "eu programme cosme programm"


def test_short_answer_is_scored_where_given():
    q = Question("q", "Wo?", ("Zeche Zollern",), ("a.txt",))
    row = {
        "answer": "Zeche Zollern\nDer Empfang fand auf der Zeche Zollern statt. [1]",
        "abstained": False,
        "short_answer": {"text": "Zeche Zollern", "start": 1, "end": 14, "n": 1},
        "citations": [{"doc_id": "a.txt"}],
        "retrieved": [{"doc_id": "a.txt"}],
    }
    scores = score_question(q, row)
    assert scores["em"] and scores["f1"] == 1.0 and scores["short"] and scores["contained"]
    whole = score_question(q, {**row, "short_answer": None})
    assert not whole["em"] and 0 < whole["f1"] < 1 and not whole["short"]
    summary = aggregate([(q, row), (q, {**row, "short_answer": None})])
    assert summary["exact_match"] == 0.5 and summary["short_answer_share"] == 0.5
    assert summary["median_answer_chars"] == len("Zeche Zollern\nDer Empfang fand auf der Zeche Zollern statt.")
    assert token_f1("Anna Schmidt", "anna schmidt") == 1.0
    assert token_f1("nichts davon", "Anna Schmidt") == 0.0
    # repeated tokens count once per occurrence on both sides
    assert token_f1("a a b", "a b b") == pytest.approx(2 / 3)


# --- metrics on hand-computed cases -------------------------------------------------------------


def q(qid: str, answers: list[str], sources: list[str], **extra) -> Question:
    return Question(qid, f"Frage {qid}?", tuple(answers), tuple(sources), (), extra, 0)


def row(
    qid: str, docs: list[str], answer: str = "", abstained: bool = False, cited: list[str] = (), latency: float = 10.0
) -> dict:
    return {
        "id": qid,
        "answer": answer,
        "abstained": abstained,
        "latency_ms": latency,
        "retrieved": [{"doc_id": d, "chunk_id": f"{d}#{i}", "score": 1.0} for i, d in enumerate(docs)],
        "citations": [{"n": i + 1, "doc_id": d} for i, d in enumerate(cited)],
    }


def test_doc_ranking_deduplicates_by_first_appearance_and_ndcg():
    retrieved = [{"doc_id": d} for d in ["b", "b", "a", "c", "a", "d"]]
    assert doc_ranking(retrieved) == ["b", "a", "c", "d"]
    # gold {a, d}: ranks 2 and 4 -> DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg(["b", "a", "c", "d"], {"a", "d"}) == pytest.approx(expected)
    assert ndcg(["a"], {"a"}) == 1.0
    assert ndcg(["x"] * 10 + ["a"], {"a"}) == 0.0  # beyond the cutoff


def test_aggregate_hand_computed():
    pairs = [
        # gold first, answer contains it, cites gold only
        (
            q("1", ["45 Prozent"], ["g1"], category="a"),
            row("1", ["g1", "x"], "Es sind 45 Prozent. [1]", cited=["g1"], latency=10),
        ),
        # gold third document (after dedup), answer wrong, cites one gold one not
        (
            q("2", ["Berlin"], ["g2"], category="a"),
            row("2", ["x", "x", "y", "g2"], "In Bonn. [1] [2]", cited=["x", "g2"], latency=20),
        ),
        # gold not retrieved, abstained
        (q("3", ["Anna"], ["g3"], category="b"), row("3", ["x", "y"], "keine Angaben", abstained=True, latency=30)),
        # unanswerable, abstained (right)
        (q("4", [], [], category="n"), row("4", ["x"], "keine Angaben", abstained=True, latency=40)),
        # unanswerable, answered (wrong)
        (q("5", [], [], category="n"), row("5", ["x"], "Irgendwas. [1]", cited=["x"], latency=50)),
    ]
    m = aggregate(pairs, k=10)
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["hit@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-4)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4) + 0) / 3, abs=1e-4)
    assert m["containment"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["answered"] == pytest.approx(2 / 3, abs=1e-4)
    # F1: q1 "es sind 45 prozent" vs "45 prozent" = 2*0.5*1/1.5; q2 0; q3 abstained 0
    assert m["token_f1"] == pytest.approx((2 * 0.5 / 1.5) / 3, abs=1e-4)
    assert m["citation_precision"] == pytest.approx((1 + 0.5) / 2, abs=1e-4)
    assert m["first_citation_gold"] == pytest.approx(1 / 3, abs=1e-4)
    # abstentions: q3 (answerable, wrong) and q4 (unanswerable, right)
    assert m["abstention_precision"] == 0.5
    assert m["abstention_recall"] == 0.5
    assert m["correct"] == pytest.approx(2 / 5)
    assert m["latency_p50_ms"] == 30.0
    assert m["latency_p95_ms"] == pytest.approx(48.0)  # 40 + 0.8 * (50 - 40)
    assert m["hit_curve"][:4] == [pytest.approx(1 / 3, abs=1e-4)] * 2 + [pytest.approx(2 / 3, abs=1e-4)] * 2


def test_aggregate_without_unanswerable_or_answerable():
    only_answerable = [(q("1", ["x"], ["d"]), row("1", ["d"], "keine", abstained=True))]
    m = aggregate(only_answerable)
    assert m["abstention_recall"] is None and m["abstention_precision"] is None
    only_unanswerable = [(q("1", [], []), row("1", [], "keine", abstained=True))]
    m = aggregate(only_unanswerable)
    assert m["hit@1"] is None and m["containment"] is None and m["abstention_recall"] == 1.0
    assert percentile([], 50) is None and percentile([7.0], 95) == 7.0


def test_group_fields_and_worst_misses():
    qs = [q(str(i), ["a"], ["d"], category="c1" if i < 3 else "c2", text=f"frei {i}", tags=["x"]) for i in range(6)]
    assert group_fields(qs) == ["category"]  # free text (all distinct) and lists are not grouped
    assert group_fields(qs, ["text"]) == ["text"]
    pairs = [
        (qs[0], row("0", ["d"], "a")),
        (qs[1], row("1", ["e"], "b")),
        (qs[2], row("2", ["d"], "b")),
        (qs[3], row("3", ["d"], "-", abstained=True)),
    ]
    worst = worst_misses(pairs, limit=2)
    assert [w["id"] for w in worst] == ["1", "2"]
    assert worst[0]["kind"] == "gold document not retrieved" and worst[0]["expected"] == ["a"]


# --- test-set formats ---------------------------------------------------------------------------


def test_jsonl_and_csv_give_the_same_questions(tmp_path: Path):
    jsonl = load_testset(write_jsonl(tmp_path / "qa.jsonl", QUESTIONS))
    csv_text = "id;question;answers;sources;category;history;note\n" + "".join(
        f"{r['id']};{r['question']};{'|'.join(r['answers'])};{'|'.join(r['sources'])};"
        f"{r['category']};{'|'.join(r.get('history', []))};{r.get('note', '')}\n"
        for r in QUESTIONS
    )
    (tmp_path / "qa.csv").write_text(csv_text, encoding="utf-8")
    from_csv = load_testset(tmp_path / "qa.csv")
    assert [(x.id, x.question, x.answers, x.sources, x.history, x.extra["category"]) for x in jsonl] == [
        (x.id, x.question, x.answers, x.sources, x.history, x.extra["category"]) for x in from_csv
    ]
    assert jsonl[1].extra == {"category": "veranstaltung", "note": "frei"}  # unknown fields kept
    assert jsonl[3].history == ("Wann fand das Sommerfest des Netzwerks statt?",)
    assert not jsonl[4].answerable and jsonl[4].answers == ()
    # a comma-separated CSV with quotes, a BOM and an int-like id
    (tmp_path / "b.csv").write_text('\ufeffid,question,answers,sources\n7,"Was, genau?",a|b,d.txt\n', encoding="utf-8")
    (one,) = load_testset(tmp_path / "b.csv")
    (num,) = load_testset(
        write_jsonl(
            tmp_path / "n.jsonl",
            [{"id": 3, "question": "Wie viele?", "answers": [80], "sources": ["d.txt"], "history": None}],
        )
    )
    assert (num.id, num.answers, num.history) == ("3", ("80",), ())
    assert (one.id, one.question, one.answers, one.sources) == ("7", "Was, genau?", ("a", "b"), ("d.txt",))


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"id": "1", "question": "A?", "answers": [], "sources": []}', '{"id": "2", "question": '], "Zeile 2"),
        (['{"id": "1", "question": "A?", "answers": []}'], "Zeile 1: Pflichtfeld(er) sources fehlen"),
        (
            [
                '{"id": "1", "question": "A?", "answers": [], "sources": []}',
                "",
                '{"id": "1", "question": "B?", "answers": [], "sources": []}',
            ],
            "Zeile 3: id '1' kommt doppelt vor (zuerst in Zeile 1)",
        ),
        (['{"id": "1", "question": "A?", "answers": "x", "sources": []}'], "'answers' muss eine Liste"),
        (['{"id": "1", "question": "A?", "answers": [["x"]], "sources": []}'], "'answers' muss eine Liste von Texten"),
        (['{"id": "1", "question": "A?", "answers": [], "sources": [], "history": "B?"}'], "'history' muss eine Liste"),
        (['{"id": "1", "question": "", "answers": [], "sources": []}'], "'question' muss ein nicht leerer Text"),
        (['["keine", "objekt"]'], "Zeile 1: erwartet ein JSON-Objekt"),
        (["", "   "], "enthält keine Fragen"),
    ],
)
def test_bad_jsonl(tmp_path: Path, lines: list[str], message: str):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, AssistantError)


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,question,answers\n1,A?,x\n", "Zeile 1: Spalte(n) sources fehlen"),
        ("id,question,answers,sources\n1,A?,x,d\n2,B?,x,d,zuviel\n", "Zeile 3: mehr Werte als Spalten"),
        ("id,question,answers,sources\n1,A?,x\n", "Zeile 2: zu wenige Werte"),
        ("id,question,answers,sources\n1,A?,x,d\n1,B?,y,d\n", "Zeile 3: id '1' kommt doppelt vor"),
        ("id,question,answers,sources\n", "enthält keine Fragen"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert message in str(info.value)


def test_missing_testset_file(tmp_path: Path):
    with pytest.raises(TestSetError, match="nicht gefunden"):
        load_testset(tmp_path / "fehlt.jsonl")


# --- variants -----------------------------------------------------------------------------------


def test_parse_set_and_variants(tmp_path: Path):
    assert parse_set("retrieval=hybrid, top_k=5") == {"retrieval": "hybrid", "top_k": "5"}
    assert parse_set("") == {}
    with pytest.raises(ConfigError, match="kein Paar"):
        parse_set("retrieval")
    with pytest.raises(ConfigError, match="Unbekannte Einstellung 'gibtsnicht'"):
        make_variants(["gibtsnicht=1"], env={})
    config = tmp_path / "klein.toml"
    config.write_text("retrieval = 'lexical'\ntop_k = 3\n", encoding="utf-8")
    vs = make_variants(
        ["retrieval=lexical", "retrieval=hybrid,top_k=5", "retrieval=lexical"], [config], k=7, env={}, model="none"
    )
    assert [v.name for v in vs] == ["klein", "retrieval=lexical", "retrieval=hybrid,top_k=5", "retrieval=lexical #2"]
    assert [v.settings.top_k for v in vs] == [3, 7, 5, 7]  # -k unless the variant sets top_k
    assert all(v.settings.model == "none" for v in vs)
    assert make_variants(env={}, k=4)[0].settings.top_k == 4


# --- end to end ---------------------------------------------------------------------------------


def test_evaluate_writes_results_and_metrics(tiny: Path, tmp_path: Path):
    result = run(tiny, tmp_path / "out")
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [x["id"] for x in QUESTIONS]
    for r in rows:
        assert {
            "id",
            "question",
            "answer",
            "abstained",
            "citations",
            "retrieved",
            "latency_ms",
            "expected_answers",
            "expected_sources",
            "category",
        } <= set(r)
        assert all({"doc_id", "chunk_id", "score"} <= set(h) for h in r["retrieved"])
    assert rows[1]["note"] == "frei" and rows[3]["history"] == QUESTIONS[3]["history"]
    answered = [r for r in rows if not r["abstained"]]
    assert answered and all({"n", "doc_id", "chunk_id", "quote"} <= set(c) for r in answered for c in r["citations"])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics == json.loads(json.dumps(result.metrics))
    (variant,) = metrics["variants"]
    assert variant["overall"]["questions"] == 5 and variant["overall"]["answerable"] == 4
    assert variant["overall"]["hit@1"] == 1.0  # each question names its document's distinctive words
    assert variant["settings"]["top_k"] == "10" and variant["effective_mode"] == "lexical"
    assert set(variant["groups"]["category"]) == {"foerderung", "veranstaltung", "projekt", "unbeantwortbar"}
    assert variant["groups"]["category"]["unbeantwortbar"]["hit@1"] is None
    assert (tiny / "index" / "CURRENT").exists()
    assert "standard" in result.table and "hit@1" in result.table


def test_resume_skips_answered_questions_and_drops_a_torn_line(tiny: Path, tmp_path: Path, monkeypatch):
    from assistant.pipeline import Assistant

    out = tmp_path / "out"
    run(tiny, out)
    results = out / "results.jsonl"
    lines = results.read_text(encoding="utf-8").splitlines()
    results.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:30], encoding="utf-8")  # killed mid-write
    asked: list[str] = []
    original = Assistant.ask

    def counting(self, question, *args, **kwargs):
        asked.append(question)
        return original(self, question, *args, **kwargs)

    monkeypatch.setattr(Assistant, "ask", counting)
    result = run(tiny, out)
    assert asked == [x["question"] for x in QUESTIONS[2:]]
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(x["id"] for x in QUESTIONS)
    assert result.metrics["variants"][0]["overall"]["questions"] == 5
    asked.clear()
    run(tiny, out)  # everything done: nothing is asked again
    assert asked == []


def test_resume_with_other_settings_is_refused(tiny: Path, tmp_path: Path):
    out = tmp_path / "out"
    run(tiny, out, "top_k=10")
    with pytest.raises(ResumeError, match="top_k: 10 → 4"):
        evaluate(tiny / "qa.jsonl", variants(tiny, "top_k=4"), out, 10, report=False, log=lambda m: None)
    evaluate(tiny / "qa.jsonl", variants(tiny, "top_k=4"), out, 10, report=False, fresh=True, log=lambda m: None)
    rows = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 5 and all(len(json.loads(r)["retrieved"]) <= 4 for r in rows)


def test_resume_after_a_code_change_is_refused(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Results of other code are not resumed as this code's: a changed ranker would report old figures."""
    import assistant.eval.run as runner

    out = tmp_path / "out"
    run(tiny, out)
    before = runner.code_digest()
    monkeypatch.setattr(runner, "code_digest", lambda: "anderer-code")
    with pytest.raises(ResumeError, match=f"code: {before} → anderer-code"):
        run(tiny, out)


def test_code_digest_sees_every_change(tmp_path: Path):
    from assistant.eval.run import code_digest

    (tmp_path / "answer").mkdir()
    (tmp_path / "answer" / "ranker.py").write_text("A = 1\n", encoding="utf-8")
    (tmp_path / "answer" / "model.json").write_text("{}", encoding="utf-8")
    first = code_digest(tmp_path)
    (tmp_path / "answer" / "model.json").write_text('{"w": 1}', encoding="utf-8")
    second = code_digest(tmp_path)
    assert second != first
    (tmp_path / "notes.md").write_text("egal", encoding="utf-8")  # not code: no change
    assert code_digest(tmp_path) == second


def test_compare_mode_own_index_for_other_chunking(tiny: Path, tmp_path: Path):
    out = tmp_path / "cmp"
    result = run(tiny, out, "retrieval=lexical", "retrieval=lexical,chunk_size=100,chunk_overlap=20", report=True)
    names = [v["name"] for v in result.metrics["variants"]]
    assert names == ["retrieval=lexical", "retrieval=lexical,chunk_size=100,chunk_overlap=20"]
    first, second = result.metrics["variants"]
    assert first["index"]["dir"] == str(tiny / "index")
    assert Path(second["index"]["dir"]).parent == out and Path(second["index"]["dir"]).name.startswith("index-")
    assert second["index"]["chunks"] > first["index"]["chunks"]
    assert (out / "retrieval-lexical" / "results.jsonl").exists()
    assert (out / "retrieval-lexical-chunk_size-100-chunk_overlap-20" / "results.jsonl").exists()
    table = result.table.splitlines()
    assert len(table) == 4 and table[2].startswith("retrieval=lexical ")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.count("| retrieval=lexical") == 2 and "![hit@k](hit_at_k.png)" in md
    for name in ("hit_at_k.png", "by_group.png", "latency.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("src='data:image/png;base64,") == 3 and "Worst misses" in page


def test_cli_eval(tiny: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "eval",
            str(tiny / "qa.jsonl"),
            "--corpus",
            str(tiny / "corpus"),
            "--index",
            str(tiny / "index"),
            "--model",
            "none",
            "--out",
            str(out),
            "-k",
            "5",
            "--quiet",
            "--set",
            "retrieval=lexical",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "retrieval=lexical" in captured.out and "hit@5" in captured.out
    assert f"geschrieben: {out / 'report.html'}" in captured.out
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["k"] == 5 and metrics["variants"][0]["settings"]["top_k"] == "5"

    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "1", "question": "A?", "answers": []}])
    code = main(
        [
            "eval",
            str(bad),
            "--corpus",
            str(tiny / "corpus"),
            "--index",
            str(tiny / "index"),
            "--model",
            "none",
            "--out",
            str(tmp_path / "bad"),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "Fehler:" in captured.err and "Zeile 1" in captured.err and "sources" in captured.err


def test_other_corpus_never_goes_into_the_default_index(tiny: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default index/ would be tmp_path/index
    vs = make_variants(["retrieval=lexical"], env={}, corpus_dir=tiny / "corpus", model="none", reader="none")
    evaluate(tiny / "qa.jsonl", vs, tmp_path / "out", 10, report=False, log=lambda m: None)
    assert vs[0].settings.index_dir == tmp_path / "out" / "index"
    assert not (tmp_path / "index").exists()


def test_threshold_check():
    sys.path.insert(0, str(ROOT / "evals"))
    try:
        from check_thresholds import THRESHOLDS, check
    finally:
        sys.path.remove(str(ROOT / "evals"))
    good = dict(THRESHOLDS.items()) | {"latency_p95_ms": 10.0}
    assert all(ok for *_, ok in check(good))
    bad = good | {"hit@1": THRESHOLDS["hit@1"] - 0.01, "latency_p95_ms": 5000.0}
    assert [r[0] for r in check(bad) if not r[3]] == ["hit@1", "latency_p95_ms"]
    assert not check({})[0][3]  # a missing figure fails


def test_stale_index_is_rebuilt_and_old_results_refused(tiny: Path, tmp_path: Path):
    import shutil

    from assistant.index.freshness import needs_rebuild

    shutil.copytree(tiny / "corpus", tmp_path / "corpus")
    write_jsonl(tmp_path / "qa.jsonl", QUESTIONS)
    out = tmp_path / "out"
    first = run(tmp_path, out)
    assert first.metrics["variants"][0]["index"]["built"].startswith("noch kein Index in ")
    assert needs_rebuild(variants(tmp_path)[0].settings) is None
    assert run(tmp_path, out).metrics["variants"][0]["index"]["built"] is None  # fresh: not rebuilt
    with open(tmp_path / "corpus" / "foerderung.txt", "a", encoding="utf-8") as handle:
        handle.write("Neu: Die Laufzeit beträgt drei Jahre.\n")
    assert needs_rebuild(variants(tmp_path)[0].settings) == "Korpus geändert: 1 geändert"
    with pytest.raises(ResumeError, match="corpus"):  # the index was rebuilt; old answers do not count
        run(tmp_path, out)
    assert needs_rebuild(variants(tmp_path)[0].settings) is None
    again = run(tmp_path, out, fresh=True)
    assert again.metrics["variants"][0]["overall"]["questions"] == 5


def test_shipped_index_is_not_rebuilt_when_fresh(index_settings):
    from assistant.index.freshness import needs_rebuild

    assert needs_rebuild(index_settings) is None
    assert needs_rebuild(index_settings.replace(chunk_size=400)) == "Chunk-Einstellungen geändert (1000/150 → 400/150)"


class HashingModel:
    """A stand-in for a sentence-transformers model: hashed bag of words, normalized (fast, offline)."""

    def get_sentence_embedding_dimension(self) -> int:
        return 64

    def encode(self, texts, **kwargs):
        import numpy as np

        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in normalize(text).split():
                vectors[row, sum(map(ord, word)) % 64] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_hybrid_variant_with_a_model_gets_its_own_dense_index(tiny: Path, tmp_path: Path, monkeypatch):
    from assistant.eval import variants as variants_module
    from assistant.index import embedder as embedder_module
    from assistant.index.format import read_manifest

    loaded: list[str] = []

    def fake_load(name, query_prefix, passage_prefix, batch_size=32, hub_timeout=1.0, progress=False, backend="torch"):
        loaded.append(name)
        return embedder_module.Embedder(HashingModel(), name, query_prefix, passage_prefix, batch_size)

    monkeypatch.setattr(variants_module, "load_embedder", fake_load)
    out = tmp_path / "dense"
    result = run(
        tiny, out, "retrieval=lexical", "retrieval=hybrid,model=hash-model", "retrieval=dense,model=hash-model"
    )
    lexical, hybrid, dense = result.metrics["variants"]
    assert loaded == ["hash-model"]  # once for both variants that use it
    assert lexical["effective_mode"] == "lexical" and lexical["index"]["dir"] == str(tiny / "index")
    assert hybrid["effective_mode"] == "hybrid" and hybrid["warnings"] == []
    assert dense["effective_mode"] == "dense" and dense["index"]["dir"] == hybrid["index"]["dir"]
    assert Path(hybrid["index"]["dir"]).parent == out
    manifest = read_manifest(Path(hybrid["index"]["dir"]))
    assert manifest.dense and manifest.model == "hash-model"
    assert hybrid["overall"]["questions"] == dense["overall"]["questions"] == 5
