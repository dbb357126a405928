"""The command line: `assistant index` and `assistant search`, in-process and as a real program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli import EXIT_ERROR, main
from assistant.index.reader import load_index

ROOT = Path(__file__).resolve().parents[1]
NIRO = "2022-10-niro-clustererfolg.txt"
HIT_KEYS = {"doc_id", "chunk_id", "start", "end", "score", "text"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def index_args(corpus: Path, index: Path, *extra: str) -> list[str]:
    return ["index", "--corpus", str(corpus), "--index", str(index), "--model", "none", "--quiet", *extra]


def test_index_summary_with_one_bad_file(tmp_path, capsys, corpus_copy):
    (corpus_copy / "kaputt.pdf").write_bytes(b"%PDF-1.4\nkein echtes PDF")
    code, out, err = run_cli(capsys, *index_args(corpus_copy, tmp_path / "index"))
    assert code == 0, err
    assert "Dokumente: 5 (5 neu, 0 geändert, 0 entfernt, 0 unverändert)" in out
    assert "Abschnitte: 22" in out
    assert "nur lexikalisch (BM25)" in out
    assert "Übersprungen: 1" in out
    skipped_lines = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(skipped_lines) == 1
    assert skipped_lines[0].startswith("  - kaputt.pdf: ")
    assert "PDF" in skipped_lines[0]  # the reason names what is wrong
    assert "Dauer: " in out and out.rstrip().endswith(" s")
    assert f"Index: {tmp_path / 'index'} (gen-000001)" in out
    assert "unverändert (" not in out

    code, out, _ = run_cli(capsys, *index_args(corpus_copy, tmp_path / "index"))
    assert code == 0
    assert "(0 neu, 0 geändert, 0 entfernt, 5 unverändert)" in out
    assert "davon 0 neu eingebettet" in out
    assert "Der Index ist unverändert (kein Dokument neu, geändert oder entfernt)." in out


def test_index_fails_when_nothing_can_be_indexed(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leer.txt").write_bytes(b"")
    (corpus / "kaputt.docx").write_bytes(b"kein zip")
    code, _out, err = run_cli(capsys, *index_args(corpus, tmp_path / "index"))
    assert code == EXIT_ERROR
    assert "Fehler:" in err and "Keine Datei" in err and str(corpus) in err
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_index_fails_for_missing_corpus(tmp_path, capsys):
    missing = tmp_path / "gibt-es-nicht"
    code, _, err = run_cli(capsys, *index_args(missing, tmp_path / "index"))
    assert code == EXIT_ERROR
    assert str(missing) in err and "existiert nicht" in err


def test_search_json(tmp_path, capsys, corpus_copy):
    assert run_cli(capsys, *index_args(corpus_copy, tmp_path / "index"))[0] == 0
    code, out, err = run_cli(
        capsys,
        "search",
        "Wer wurde zum ClusterERFOLG 2022 gewählt?",
        "--index",
        str(tmp_path / "index"),
        "--corpus",
        str(corpus_copy),
        "--model",
        "none",
        "-k",
        "3",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["query"] == "Wer wurde zum ClusterERFOLG 2022 gewählt?"
    assert data["mode"] == "lexical"
    hits = data["hits"]
    assert isinstance(hits, list) and 1 <= len(hits) <= 3
    index = load_index(tmp_path / "index")
    for hit in hits:
        assert set(hit) >= HIT_KEYS
        assert isinstance(hit["start"], int) and isinstance(hit["end"], int) and hit["start"] < hit["end"]
        assert isinstance(hit["score"], float) and hit["score"] > 0
        source = index.documents[hit["doc_id"]].text  # the file's text less its boilerplate lines
        assert hit["text"] == source[hit["start"] : hit["end"]]
        assert hit["chunk_id"].startswith(hit["doc_id"] + "#")
    assert hits[0]["doc_id"] == NIRO
    index.close()


def test_search_text_output_and_filters(tmp_path, capsys, corpus_copy):
    index = str(tmp_path / "index")
    assert run_cli(capsys, *index_args(corpus_copy, tmp_path / "index"))[0] == 0
    code, out, _ = run_cli(
        capsys, "search", "ClusterERFOLG", "--index", index, "--corpus", str(corpus_copy), "--model", "none", "-k", "2"
    )
    assert code == 0
    assert out.startswith("[1] NIRO zum ClusterERFOLG 2022 gewählt (2022-10-niro-clustererfolg.txt")
    assert "Score" in out

    code, out, _ = run_cli(
        capsys,
        "search",
        "Cluster",
        "--index",
        index,
        "--model",
        "none",
        "--json",
        "-k",
        "20",
        "--doc",
        "2020-cross-cluster-camp-ifii.txt",
    )
    assert code == 0
    assert {h["doc_id"] for h in json.loads(out)["hits"]} == {"2020-cross-cluster-camp-ifii.txt"}

    code, out, _ = run_cli(
        capsys,
        "search",
        "Cluster",
        "--index",
        index,
        "--model",
        "none",
        "--json",
        "-k",
        "20",
        "--from",
        "2022-01-01",
        "--to",
        "2022-12-31",
    )
    assert code == 0
    assert {h["doc_id"] for h in json.loads(out)["hits"]} == {"2022-05-go-cluster-eccp-infoveranstaltung.txt", NIRO}

    code, out, _ = run_cli(capsys, "search", "Quokka Xylophon", "--index", index, "--model", "none")
    assert code == 0 and "Keine passenden Abschnitte gefunden." in out

    with pytest.raises(SystemExit) as info:
        main(["search", "Cluster", "--index", index, "--from", "9.5.2022"])
    assert info.value.code == 2
    assert "JJJJ-MM-TT" in capsys.readouterr().err


def test_search_without_index(tmp_path, capsys):
    missing = tmp_path / "kein-index"
    code, out, err = run_cli(capsys, "search", "Cluster", "--index", str(missing), "--model", "none", "--json")
    assert code == EXIT_ERROR
    assert out == ""
    assert "Kein Index in" in err and str(missing) in err
    assert "assistant index" in err


def test_configuration_error_names_the_setting(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "viele")
    code, _, err = run_cli(capsys, "search", "Cluster", "--index", str(tmp_path))
    assert code == 2
    assert "Fehler in der Konfiguration" in err and "top_k" in err


def test_index_and_search_with_the_tiny_model(tmp_path, capsys, corpus_copy, tiny_model_dir):
    base = ["--index", str(tmp_path / "index"), "--model", str(tiny_model_dir)]
    code, out, err = run_cli(capsys, "index", "--corpus", str(corpus_copy), "--quiet", *base)
    assert code == 0, err
    assert "hybrid (BM25 + Vektoren)" in out and "davon 22 neu eingebettet" in out
    code, out, err = run_cli(
        capsys, "search", "Sommerempfang Zeche Zollern", "--corpus", str(corpus_copy), "--json", *base
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == "hybrid"
    assert any(set(h["ranks"]) == {"lexical", "dense"} for h in data["hits"])


def test_real_program_index_and_search(tmp_path, corpus_copy):
    program = Path(sys.executable).with_name("assistant")
    if not program.exists():
        program = ROOT / ".venv" / "bin" / "assistant"
    env = dict(os.environ, ASSISTANT_MODEL="none", PYTHONIOENCODING="utf-8")
    index = tmp_path / "index"
    done = subprocess.run(
        [str(program), "index", "--corpus", str(corpus_copy), "--index", str(index), "--quiet"],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Dokumente: 5" in done.stdout and "Dauer:" in done.stdout
    assert "Warnung" not in done.stderr  # ASSISTANT_MODEL=none: no model, no fallback warning

    done = subprocess.run(
        [
            str(program),
            "search",
            "Wer wurde zum ClusterERFOLG 2022 gewählt?",
            "--json",
            "--index",
            str(index),
            "--corpus",
            str(corpus_copy),
        ],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert hits and set(hits[0]) >= HIT_KEYS and hits[0]["doc_id"] == NIRO

    done = subprocess.run(
        [str(program), "search", "Cluster", "--index", str(tmp_path / "fehlt")],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == EXIT_ERROR
    assert str(tmp_path / "fehlt") in done.stderr


@pytest.mark.parametrize("command", [["ask", "Frage?"], ["chat"]])
def test_reader_flag_on_ask_and_chat(command, monkeypatch):
    from assistant.cli import build_parser, settings_from

    parser = build_parser()
    args = parser.parse_args([*command, "--reader", "/modelle/qa"])
    assert settings_from(args).reader == "/modelle/qa"
    monkeypatch.setenv("ASSISTANT_READER", "none")  # the environment, when no flag is given
    assert settings_from(parser.parse_args(command)).reader_enabled is False


def test_reader_flag_on_eval_reaches_every_variant(monkeypatch):
    from assistant.eval import variants

    make_variants = variants.make_variants
    seen: dict = {}

    class Stop(Exception):
        pass

    def capture(*args, **flags):
        seen.update(flags)
        raise Stop

    monkeypatch.setattr(variants, "make_variants", capture)
    with pytest.raises(Stop):
        main(["eval", "tests.jsonl", "--reader", "none", "--set", "top_k=3"])
    assert seen["reader"] == "none"
    made = make_variants(["top_k=3", "top_k=4"], [], 10, **seen)
    assert [v.settings.reader_enabled for v in made] == [False, False]


def test_no_reader_flag_where_no_answer_is_read(capsys):
    from assistant.cli import build_parser

    for command in (["search", "Frage?"], ["index"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--reader", "none"])
    capsys.readouterr()
