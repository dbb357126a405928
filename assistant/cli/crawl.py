"""``assistant crawl``: its progress bar and its German summary (like ``assistant index``'s)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from .parser import settings_from
from .progress import progress_bar

MAX_LISTED = 30  # skipped addresses and dry-run changes listed one by one; the rest counted
STATUS_WORDS = {"new": "neu", "changed": "geändert", "unchanged": "unverändert", "removed": "entfernt"}


def cmd_crawl(args: argparse.Namespace) -> int:
    from ..ingest.web import KINDS, CrawlOptions, crawl

    settings = settings_from(args)
    options = CrawlOptions(
        urls=tuple(args.urls),
        sitemap=args.sitemap,
        same_site=args.same_site,
        max_pages=args.max_pages if args.max_pages is not None else settings.crawl_max_pages,
        delay=args.delay if args.delay is not None else settings.crawl_delay,
        dry_run=args.dry_run,
    )
    report = crawl(settings, options, progress=progress_bar(settings.progress, unit=" Seiten"))
    web = settings.corpus_dir / "web"
    print(f"Web-Korpus: {web}" + (" (Probelauf: nichts geschrieben)" if report.dry_run else ""))
    counts = {status: len(report.of(status)) for status in STATUS_WORDS}
    print(
        f"Seiten: {len(report.changes)} ({counts['new']} neu, {counts['changed']} geändert, "
        f"{counts['removed']} entfernt, {counts['unchanged']} unverändert)"
    )
    if report.dry_run:
        changes = [c for c in report.changes if c.status != "unchanged"]
        if changes:
            print("Würde sich ändern:")
        for change in changes[:MAX_LISTED]:
            print(f"  {STATUS_WORDS[change.status]}: {change.url} -> {change.path}")
        if len(changes) > MAX_LISTED:
            print(f"  … und {len(changes) - MAX_LISTED} weitere")
    if report.skipped:
        by_kind = Counter(KINDS.get(s.kind, s.kind) for s in report.skipped)
        print(f"Übersprungen: {len(report.skipped)} ({', '.join(f'{k}: {n}' for k, n in by_kind.most_common())})")
        for item in report.skipped[:MAX_LISTED]:
            print(f"  - {item.url}: {item.reason}")
        if len(report.skipped) > MAX_LISTED:
            print(f"  … und {len(report.skipped) - MAX_LISTED} weitere")
    if report.not_fetched:
        print(
            f"Grenze von {options.max_pages} Seiten erreicht: {report.not_fetched} gefundene Seite(n) "
            "nicht abgerufen (--max-pages)."
        )
    print(f"Dauer: {report.seconds:.1f} s")
    if not report.reached_any:
        print("Fehler: Keine Seite konnte abgerufen werden (Gründe oben).", file=sys.stderr)
        return 1
    if not report.dry_run and any(c.status != "unchanged" for c in report.changes):
        print("Weiter mit `assistant index`, um die Änderungen in den Index aufzunehmen.")
    return 0
