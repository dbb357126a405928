"""Command line: ``assistant index | search | ask | eval | chat | bench``. The only place that
prints and picks exit codes: the project's errors become German messages here; everything else
lives in the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .config import ANSWER_MODES, RETRIEVAL_MODES, Settings
from .errors import AssistantError, ConfigError
from .types import Answer, Progress, SearchFilters

if TYPE_CHECKING:
    from .index.build import BuildReport
    from .index.reader import IndexData

EXIT_ERROR = 1
EXIT_USAGE = 2


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
    index.set_defaults(func=cmd_index)

    search = sub.add_parser("search", help="Passagen zu einer Frage suchen")
    search.add_argument("question")
    _common(search)
    search.add_argument("-k", type=int, dest="top_k", help="Anzahl der Treffer (Standard: 5)")
    search.add_argument("--retrieval", choices=RETRIEVAL_MODES)
    _filter_and_json(search)
    search.set_defaults(func=cmd_search)

    ask = sub.add_parser("ask", help="Frage beantworten (ohne Frage: Dialog im Terminal)")
    ask.add_argument("question", nargs="?", help="die Frage; fehlt sie, werden Fragen zeilenweise gelesen")
    _common(ask)
    ask.add_argument("--retrieval", choices=RETRIEVAL_MODES)
    ask.add_argument("--answer-mode", dest="answer_mode", choices=ANSWER_MODES)
    _filter_and_json(ask)
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="Chat im Browser starten (baut den Index, falls nötig)")
    _common(chat)
    chat.add_argument("--host", default="127.0.0.1", help="Adresse (Standard: 127.0.0.1, nur dieser Rechner)")
    chat.add_argument("--port", type=int, default=7860, help="Port (Standard: 7860)")
    chat.set_defaults(func=cmd_chat)

    bench = sub.add_parser("bench", help="Messen, wie Kosten mit der Korpusgröße wachsen (mit LangChain-Vergleich)")
    bench.add_argument("--chunks", type=int, required=True, help="ungefähre Zahl der Abschnitte des erzeugten Korpus")
    bench.add_argument(
        "--corpus", dest="corpus_dir", type=Path, help="eigenes Korpus statt eines erzeugten (aus ../shared/evaldata)"
    )
    bench.add_argument("--data", type=Path, help="Ordner mit 10kgnad/ und germanquad/ (Standard: ../shared/evaldata)")
    bench.add_argument("--queries", type=int, default=200, help="Fragen für die Latenzmessung (Standard: 200)")
    bench.add_argument("--langchain-queries", type=int, default=100, help="Fragen für den LangChain-Vergleich")
    bench.add_argument("--no-langchain", action="store_true", help="ohne LangChain-Vergleich")
    bench.add_argument("--json", dest="json_file", type=Path, help="Ergebnis zusätzlich als JSON-Datei")
    bench.set_defaults(func=cmd_bench)

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
    ev.set_defaults(func=cmd_eval)
    for command in (ask, chat, ev):  # the commands that answer questions
        command.add_argument("--reader", help="Lesemodell (extraktive QA): Name oder lokaler Ordner; 'none' = aus")
    return parser


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


def _progress_bar(enabled: bool) -> Progress | None:
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    return update


def cmd_index(args: argparse.Namespace) -> int:
    from .index.build import build_index

    settings = settings_from(args)
    report = build_index(settings, progress=_progress_bar(settings.progress), full=args.full)
    for warning in report.warnings:
        print(f"Warnung: {warning}", file=sys.stderr)
    print(f"Index: {settings.index_dir} ({report.generation})")
    if report.up_to_date and not report.full_rebuild_reason:
        print("Keine Änderungen im Korpus seit dem letzten Bau.")
    print(
        f"Dokumente: {report.documents} ({len(report.added)} neu, {len(report.changed)} geändert, "
        f"{len(report.removed)} entfernt, {report.unchanged} unverändert)"
    )
    print(f"Abschnitte: {report.chunks} (davon {report.embedded_chunks} neu eingebettet)")
    print(f"Suche: {'hybrid (BM25 + Vektoren)' if report.dense else 'nur lexikalisch (BM25)'}")
    if report.full_rebuild_reason:
        print(f"Vollständig neu gebaut: {report.full_rebuild_reason}")
    if report.skipped:
        print(f"Übersprungen: {len(report.skipped)}")
        for item in report.skipped:
            print(f"  - {item.path}: {item.reason}")
    print(f"Dauer: {report.seconds:.1f} s")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .pipeline import Assistant

    settings = settings_from(args)
    assistant = Assistant.open(settings)
    for warning in assistant.warnings:
        print(f"Warnung: {warning}", file=sys.stderr)
    hits = assistant.search(args.question, settings.top_k, _filters(args))
    if args.json:
        json.dump(
            {"query": args.question, "mode": assistant.retriever.effective_mode, "hits": [h.to_json() for h in hits]},
            sys.stdout,
            ensure_ascii=False,
            indent=1,
        )
        print()
        return 0
    if not hits:
        print("Keine passenden Abschnitte gefunden.")
    for rank, hit in enumerate(hits, start=1):
        doc = assistant.index.documents[hit.chunk.doc_id]
        when = f", {doc.date.text}" if doc.date else ""
        print(f"[{rank}] {doc.title} ({hit.chunk.doc_id}{when}) Score {hit.score:.3f}")
        text = " ".join(hit.chunk.text.split())
        print(f"    {text[:400]}{' …' if len(text) > 400 else ''}")
    return 0


def _filters(args: argparse.Namespace) -> SearchFilters:
    return SearchFilters(
        doc_ids=frozenset(args.docs) if args.docs else None, date_from=args.date_from, date_to=args.date_to
    )


def print_answer(answer: Answer, index: IndexData, stream: TextIO | None = None) -> None:
    """The answer, then its numbered sources (or, when it abstains, the closest passages)."""
    out = stream or sys.stdout
    print(answer.text, file=out)
    if answer.note:
        print(f"\n{answer.note}", file=out)
    if answer.flagged:
        print("\nNicht belegt (ohne Quellenangabe):", file=out)
        for sentence in answer.flagged:
            print(f"  - {sentence}", file=out)
    if answer.citations:
        print("\nQuellen:", file=out)
        for c in answer.citations:
            where = ", ".join(x for x in (c.doc_id, c.date, f"S. {c.page}" if c.page else None) if x)
            print(f"[{c.n}] {c.title} ({where})", file=out)
            print(f"    „{' '.join(c.quote.split())}“", file=out)
    elif answer.abstained and answer.hits:
        print("\nMöglicherweise hilfreich:", file=out)
        for hit in answer.hits[:3]:
            doc = index.documents[hit.chunk.doc_id]
            text = " ".join(hit.chunk.text.split())
            print(f"- {doc.title} ({doc.id}): {text[:160]}{' …' if len(text) > 160 else ''}", file=out)


def cmd_ask(args: argparse.Namespace) -> int:
    from .pipeline import Assistant

    settings = settings_from(args)
    assistant = Assistant.open(settings)
    for warning in assistant.warnings:
        print(f"Warnung: {warning}", file=sys.stderr)
    if args.question:
        answer = assistant.ask(args.question, filters=_filters(args))
        if args.json:
            json.dump({"question": args.question, **answer.to_json()}, sys.stdout, ensure_ascii=False, indent=1)
            print()
        else:
            print_answer(answer, assistant.index)
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        print("Fragen Sie zu den Dokumenten (leere Zeile oder Strg+D beendet, 'neu' beginnt ein neues Gespräch).")
    history: list[tuple[str, Any]] = []
    while True:
        try:
            question = input("\nFrage: " if interactive else "").strip()
        except EOFError:
            break
        if not question:
            break
        if question.lower() in ("neu", "neues gespräch"):
            history = []
            print("Neues Gespräch.")
            continue
        answer = assistant.ask(question, history, filters=_filters(args))
        if args.json:
            print(json.dumps({"question": question, **answer.to_json()}, ensure_ascii=False))
        else:
            print_answer(answer, assistant.index)
        history.append((question, answer))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    return serve(settings_from(args), host=args.host, port=args.port)


def ensure_index(settings: Settings, out: TextIO | None = None) -> BuildReport | None:
    """Build or update the index when :func:`~assistant.index.freshness.needs_rebuild` says so;
    progress on ``out``."""
    from .index.build import build_index
    from .index.freshness import needs_rebuild

    out = out or sys.stderr
    reason = needs_rebuild(settings)
    if reason is None:
        return None
    print(f"Index wird gebaut ({reason}) …", file=out)
    report = build_index(settings, progress=_print_progress(out) if settings.progress else None)
    print(f"Index fertig: {report.documents} Dokumente, {report.chunks} Abschnitte ({report.seconds:.1f} s).", file=out)
    for item in report.skipped:
        print(f"  übersprungen: {item.path}: {item.reason}", file=out)
    return report


def _print_progress(out: TextIO) -> Progress:
    last: dict[str, int] = {}

    def show(stage: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        step = percent // 25 * 25
        if last.get(stage) == step:
            return
        last[stage] = step
        print(f"  {stage}: {done}/{total} ({percent} %)", file=out, flush=True)

    return show


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> int:
    """``assistant chat``: index if needed, then serve until interrupted."""
    from .ui.app import build_app, launch  # Gradio loads slowly; only `chat` needs it
    from .ui.service import PASSWORD_ENV

    ensure_index(settings)
    demo = build_app(settings)
    service = demo.service  # type: ignore[attr-defined]
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Achtung: Der Chat ist unter {host} auch von anderen Rechnern erreichbar.", file=sys.stderr)
    if not service.staff_enabled:
        print(f"Mitarbeiterbereich aus ({PASSWORD_ENV} nicht gesetzt).", file=sys.stderr)
    print(f"Rückmeldungen werden gespeichert in {service.feedback.path}", file=sys.stderr)
    launch(demo, host, port)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.scale import DEFAULT_DATA, run, table

    result = run(
        args.chunks,
        args.corpus_dir,
        args.data or DEFAULT_DATA,
        queries=args.queries,
        langchain=not args.no_langchain,
        langchain_queries=args.langchain_queries,
    )
    print(table(result))
    if args.json_file:
        args.json_file.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"geschrieben: {args.json_file}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .eval.run import evaluate
    from .eval.variants import make_variants

    flags = {n: getattr(args, n) for n in ("corpus_dir", "index_dir", "model", "reader")}
    variants = make_variants(args.sets, args.configs, args.k, **flags)
    out = args.out or Path("evals") / "out" / args.testset.stem
    try:
        result = evaluate(
            args.testset,
            variants,
            out,
            args.k,
            fresh=args.fresh,
            progress=not args.quiet,
            worst=args.worst,
            group_by=args.group_by,
            limit=args.limit,
        )
    except KeyboardInterrupt:
        print(f"Unterbrochen; derselbe Aufruf setzt in {out} fort.", file=sys.stderr)
        raise
    print(result.table)
    print()
    for path in result.files:
        print(f"geschrieben: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="Warnung: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"Fehler in der Konfiguration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AssistantError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Abgebrochen.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
