"""What each ``assistant`` command does and prints. Heavy parts (Gradio, the evaluation, the
benchmark) are imported when their command runs, so ``assistant ask`` starts fast."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..config import Settings
from ..types import Answer, Progress, SearchFilters
from .crawl import cmd_crawl
from .embed import cmd_embed
from .parser import settings_from
from .progress import progress_bar

if TYPE_CHECKING:
    from ..index.build import BuildReport
    from ..index.reader import IndexData


def cmd_index(args: argparse.Namespace) -> int:
    from ..index.build import build_index

    settings = settings_from(args)
    report = build_index(
        settings, progress=progress_bar(settings.progress), full=args.full, vectors_from=args.vectors_from
    )
    for warning in report.warnings:
        print(f"Warnung: {warning}", file=sys.stderr)
    print(f"Index: {settings.index_dir} ({report.generation})")
    if report.up_to_date and not report.full_rebuild_reason:
        print("Der Index ist unverändert (kein Dokument neu, geändert oder entfernt).")
    print(
        f"Dokumente: {report.documents} ({len(report.added)} neu, {len(report.changed)} geändert, "
        f"{len(report.removed)} entfernt, {report.unchanged} unverändert)"
    )
    imported = f", {report.imported_chunks} aus {args.vectors_from} übernommen" if args.vectors_from else ""
    print(f"Abschnitte: {report.chunks} (davon {report.embedded_chunks} neu eingebettet{imported})")
    print(f"Suche: {'hybrid (BM25 + Vektoren)' if report.dense else 'nur lexikalisch (BM25)'}")
    if report.full_rebuild_reason:
        print(f"Vollständig neu gebaut: {report.full_rebuild_reason}")
    if report.duplicate_groups:
        copies = sum(len(g) - 1 for g in report.duplicate_groups)
        print(f"Mehrfach veröffentlicht: {len(report.duplicate_groups)} Dokumente mit {copies} weiteren Kopien")
    if report.skipped:
        print(f"Übersprungen: {len(report.skipped)}")
        for item in report.skipped:
            print(f"  - {item.path}: {item.reason}")
    print(f"Dauer: {report.seconds:.1f} s")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..pipeline import Assistant

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
        if hit.also_published:
            print(f"    {copies_line(hit.also_published, assistant.index)}")
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
            if c.url:
                print(f"    Original: {c.url}", file=out)
            if c.also_published:
                print(f"    {copies_line(c.also_published, index)}", file=out)
    elif answer.abstained and answer.hits:
        print("\nMöglicherweise hilfreich:", file=out)
        for hit in answer.hits[:3]:
            doc = index.documents[hit.chunk.doc_id]
            text = " ".join(hit.chunk.text.split())
            print(f"- {doc.title} ({doc.id}): {text[:160]}{' …' if len(text) > 160 else ''}", file=out)


def copies_line(doc_ids: tuple[str, ...], index: IndexData) -> str:
    """ "auch veröffentlicht bei …": the other copies of a reposted document, by site or id."""
    from ..index.duplicates import copy_label

    names = [copy_label(index.documents[d]) if d in index.documents else d for d in doc_ids]
    return f"auch veröffentlicht bei: {', '.join(names)}"


def cmd_ask(args: argparse.Namespace) -> int:
    from ..pipeline import Assistant

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
    from ..errors import IndexWriteError
    from ..index.build import build_index
    from ..index.format import current_generation
    from ..index.freshness import needs_rebuild

    out = out or sys.stderr
    # An index of another corpus folder is served as it is (with a warning), not rebuilt.
    reason = needs_rebuild(settings, other_corpus=False)
    if reason is None:
        return None
    print(f"Index wird gebaut – {reason}.", file=out)
    try:
        report = build_index(settings, progress=_print_progress(out) if settings.progress else None)
    except IndexWriteError as exc:
        if current_generation(settings.index_dir) is None:
            raise
        # The previous index is whole and searchable: the chat serves it rather than not at all.
        print(f"Warnung: {exc} Bis dahin wird der bisherige Index verwendet.", file=out)
        return None
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
    from ..ui.app import build_app, launch  # Gradio loads slowly; only `chat` needs it
    from ..ui.service import PASSWORD_ENV

    ensure_index(settings)
    app = build_app(settings)
    service = app.service
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Achtung: Der Chat ist unter {host} auch von anderen Rechnern erreichbar.", file=sys.stderr)
    if not service.staff_enabled:
        print(f"Mitarbeiterbereich aus ({PASSWORD_ENV} nicht gesetzt).", file=sys.stderr)
    print(f"Rückmeldungen werden gespeichert in {service.feedback.path}", file=sys.stderr)
    launch(app, host, port)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench.scale import DEFAULT_DATA, run, table

    result = run(
        args.chunks,
        args.corpus_dir,
        args.data or DEFAULT_DATA,
        queries=args.queries,
        langchain=not args.no_langchain,
        langchain_queries=args.langchain_queries,
        query_embedding=not args.no_query_embedding,
        log=lambda step: print(f"[bench {time.strftime('%H:%M:%S')}] {step}", file=sys.stderr, flush=True),
    )
    print(table(result))
    if args.json_file:
        args.json_file.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"geschrieben: {args.json_file}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ..eval.run import evaluate
    from ..eval.variants import make_variants

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
            log=lambda message: print(message, file=sys.stderr),
        )
    except KeyboardInterrupt:
        print(f"Unterbrochen; derselbe Aufruf setzt in {out} fort.", file=sys.stderr)
        raise
    print(result.table)
    print()
    for path in result.files:
        print(f"geschrieben: {path}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """``assistant feedback export``: the chat's votes as a test set (one item per answer)."""
    from ..ui.feedback import FeedbackStore, export_testset
    from ..ui.service import resolve_data_dir

    store = FeedbackStore(resolve_data_dir(args.data_dir))
    text, report = export_testset(store, args.out)
    if args.out is None:
        sys.stdout.write(text)
    if report.broken_lines:
        print(f"Warnung: {report.broken_lines} unlesbare Zeile(n) in {store.path} übergangen.", file=sys.stderr)
    print(
        f"{report.items} Testfrage(n) aus {report.votes} Bewertung(en): {report.good} mit erwarteter Antwort (👍), "
        f"{report.review} zur Prüfung (👎, von `assistant eval` übersprungen).",
        file=sys.stderr,
    )
    if args.out is not None:
        print(f"geschrieben: {args.out}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "index": cmd_index,
    "search": cmd_search,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "bench": cmd_bench,
    "eval": cmd_eval,
    "feedback": cmd_feedback,
    "crawl": cmd_crawl,
    "embed": cmd_embed,
}
