"""The ``assistant`` command's arguments, and the settings they make."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from ..config import ANSWER_MODES, RETRIEVAL_MODES, Settings


def _common(parser: argparse.ArgumentParser, corpus: bool = True) -> None:
    parser.add_argument("--index", dest="index_dir", type=Path, help="Index-Ordner (Standard: index)")
    if corpus:
        parser.add_argument("--corpus", dest="corpus_dir", type=Path, help="Korpus-Ordner (Standard: corpus)")
    parser.add_argument("--model", help="Einbettungsmodell: Name oder lokaler Ordner; 'none' = nur lexikalisch")
    parser.add_argument("--config", type=Path, help="Konfigurationsdatei (TOML)")


def _filter_and_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--doc", action="append", dest="docs", help="nur in diesem Dokument (mehrfach möglich)")
    parser.add_argument("--from", dest="date_from", type=_date, help="Datum ab (JJJJ-MM-TT)")
    parser.add_argument("--to", dest="date_to", type=_date, help="Datum bis (JJJJ-MM-TT)")
    parser.add_argument("--json", action="store_true", help="Ergebnis als JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description="Deutscher Dokumenten-Assistent für Cluster und Netzwerke"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    index = sub.add_parser("index", help="Index aus dem Korpus bauen oder aktualisieren")
    _common(index)
    index.add_argument("--chunk-size", type=int)
    index.add_argument("--chunk-overlap", type=int)
    index.add_argument("--full", action="store_true", help="alles neu bauen statt nur Änderungen")
    index.add_argument("--quiet", action="store_true", help="keinen Fortschritt anzeigen")
    index.add_argument(
        "--vectors-from",
        type=Path,
        metavar="DIR",
        help="Vektoren aus `assistant embed` übernehmen statt einbetten (fehlende Abschnitte werden lokal eingebettet)",
    )

    embed = sub.add_parser("embed", help="Korpus verteilt einbetten (Ray) und als Parquet-Dateien ablegen")
    embed.add_argument("--engine", choices=["ray"], default="ray", help="Ausführung (Standard: ray)")
    embed.add_argument("--address", help="Adresse des Ray-Clusters (Standard: lokal starten), z. B. ray://kopf:10001")
    embed.add_argument("--corpus", dest="corpus_dir", type=Path, help="Korpus-Ordner (Standard: corpus)")
    embed.add_argument("--out", type=Path, required=True, help="Ausgabe-Ordner für die Parquet-Dateien")
    embed.add_argument("--model", help="Einbettungsmodell: Name oder lokaler Ordner")
    embed.add_argument("--chunk-size", type=int)
    embed.add_argument("--chunk-overlap", type=int)
    embed.add_argument("--config", type=Path, help="Konfigurationsdatei (TOML)")
    embed.add_argument("--quiet", action="store_true", help="keinen Fortschritt anzeigen")

    search = sub.add_parser("search", help="Passagen zu einer Frage suchen")
    search.add_argument("question")
    _common(search)
    search.add_argument("-k", type=int, dest="top_k", help="Anzahl der Treffer (Standard: 5)")
    search.add_argument("--retrieval", choices=RETRIEVAL_MODES)
    _filter_and_json(search)

    ask = sub.add_parser("ask", help="Frage beantworten (ohne Frage: Dialog im Terminal)")
    ask.add_argument("question", nargs="?", help="die Frage; fehlt sie, werden Fragen zeilenweise gelesen")
    _common(ask)
    ask.add_argument("--retrieval", choices=RETRIEVAL_MODES)
    ask.add_argument("--answer-mode", dest="answer_mode", choices=ANSWER_MODES)
    _filter_and_json(ask)

    chat = sub.add_parser("chat", help="Chat im Browser starten (baut den Index, falls nötig)")
    _common(chat)
    chat.add_argument("--host", default="127.0.0.1", help="Adresse (Standard: 127.0.0.1, nur dieser Rechner)")
    chat.add_argument("--port", type=int, default=7860, help="Port (Standard: 7860)")

    crawl = sub.add_parser("crawl", help="Webseiten ins Korpus holen (corpus/web/) und aktuell halten")
    crawl.add_argument("urls", nargs="+", metavar="URL", help="Startadresse(n), z. B. https://www.example.de/")
    crawl.add_argument(
        "--sitemap", action="store_true", help="Seiten aus der Sitemap (aus robots.txt oder /sitemap.xml) holen"
    )
    crawl.add_argument("--same-site", action="store_true", help="Links folgen, nur auf dem Host der Startadresse")
    crawl.add_argument("--corpus", dest="corpus_dir", type=Path, help="Korpus-Ordner (Standard: corpus)")
    crawl.add_argument("--max-pages", type=_positive_int, help="höchstens so viele Seiten abrufen (Standard: 200)")
    crawl.add_argument(
        "--delay",
        type=_seconds,
        help="Sekunden Pause zwischen zwei Abrufen je Host (Standard: 1; robots.txt kann mehr verlangen)",
    )
    crawl.add_argument("--dry-run", action="store_true", help="nur anzeigen, was sich ändern würde; nichts schreiben")
    crawl.add_argument("--config", type=Path, help="Konfigurationsdatei (TOML)")
    crawl.add_argument("--quiet", action="store_true", help="keinen Fortschritt anzeigen")

    bench = sub.add_parser("bench", help="Messen, wie Kosten mit der Korpusgröße wachsen (mit LangChain-Vergleich)")
    bench.add_argument("--chunks", type=int, required=True, help="ungefähre Zahl der Abschnitte des erzeugten Korpus")
    bench.add_argument(
        "--corpus", dest="corpus_dir", type=Path, help="eigenes Korpus statt eines erzeugten (aus ../shared/evaldata)"
    )
    bench.add_argument("--data", type=Path, help="Ordner mit 10kgnad/ und germanquad/ (Standard: ../shared/evaldata)")
    bench.add_argument("--queries", type=int, default=200, help="Fragen für die Latenzmessung (Standard: 200)")
    bench.add_argument("--langchain-queries", type=int, default=100, help="Fragen für den LangChain-Vergleich")
    bench.add_argument("--no-langchain", action="store_true", help="ohne LangChain-Vergleich")
    bench.add_argument(
        "--no-query-embedding",
        action="store_true",
        help="ohne Messung der Abfrage-Einbettung (e5-small-Architektur, torch/onnx/onnx-int8/openvino/openvino-int8)",
    )
    bench.add_argument("--json", dest="json_file", type=Path, help="Ergebnis zusätzlich als JSON-Datei")

    ev = sub.add_parser("eval", help="Testfragen beantworten und messen (Treffer, Antworten, Zitate, Enthaltung)")
    ev.add_argument("testset", type=Path, help="Testdatei: JSONL oder CSV (id, question, answers, sources)")
    ev.add_argument("--corpus", dest="corpus_dir", type=Path, help="Korpus-Ordner (Standard: corpus)")
    ev.add_argument(
        "--index", dest="index_dir", type=Path, help="Index-Ordner (Standard: index; bei anderem Korpus OUT/index)"
    )
    ev.add_argument("--model", help="Einbettungsmodell: Name oder lokaler Ordner; 'none' = nur lexikalisch")
    ev.add_argument("--out", type=Path, help="Ausgabe-Ordner (Standard: evals/out/<Name der Testdatei>)")
    ev.add_argument("-k", type=int, default=10, help="Treffer je Frage, die gemessen werden (Standard: 10)")
    ev.add_argument(
        "--set",
        action="append",
        dest="sets",
        default=[],
        metavar="NAME=WERT,...",
        help='eine Variante (mehrfach möglich), z. B. "retrieval=hybrid,top_k=5"',
    )
    ev.add_argument(
        "--config",
        action="append",
        dest="configs",
        type=Path,
        default=[],
        help="eine Variante aus einer TOML-Datei (mehrfach möglich)",
    )
    ev.add_argument("--group-by", action="append", dest="group_by", help="Feld, nach dem gruppiert wird")
    ev.add_argument("--limit", type=int, default=0, help="nur die ersten N Fragen")
    ev.add_argument("--worst", type=int, default=10, help="so viele Fehlschläge im Bericht (Standard: 10)")
    ev.add_argument("--fresh", action="store_true", help="frühere Ergebnisse verwerfen statt fortzusetzen")
    ev.add_argument("--quiet", action="store_true", help="keinen Fortschrittsbalken anzeigen")
    feedback = sub.add_parser("feedback", help="Rückmeldungen aus dem Chat (👍/👎) weiterverwenden")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_sub.add_parser(
        "export",
        help="Bewertungen als Testdatei für `assistant eval` ausgeben (👍 = erwartete Antwort, 👎 = zur Prüfung)",
    )
    export.add_argument(
        "--data", dest="data_dir", type=Path, help="Datenordner des Chats (Standard: $ASSISTANT_DATA_DIR oder .data)"
    )
    export.add_argument("--out", type=Path, help="Testdatei (JSONL), die geschrieben wird (Standard: stdout)")
    for command in (ask, chat, ev):  # the commands that answer questions
        command.add_argument("--reader", help="Lesemodell (extraktive QA): Name oder lokaler Ordner; 'none' = aus")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"ungültige Zahl {text!r}, erwartet eine ganze Zahl ab 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"ungültige Sekundenzahl {text!r}, erwartet eine Zahl ab 0")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ungültiges Datum {text!r}, erwartet JJJJ-MM-TT") from None


def settings_from(args: argparse.Namespace) -> Settings:
    names = "index_dir corpus_dir model reader chunk_size chunk_overlap top_k retrieval answer_mode".split()
    overrides = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "quiet", False):
        overrides["progress"] = False
    return Settings.load(config_file=getattr(args, "config", None), **overrides)
