"""``assistant embed --engine ray``: the corpus embedded on a Ray cluster into Parquet files
for ``assistant index --vectors-from``."""

from __future__ import annotations

import argparse
import sys

from .parser import settings_from


def cmd_embed(args: argparse.Namespace) -> int:
    from ..index.ray_embed import embed_with_ray

    settings = settings_from(args)
    report = embed_with_ray(settings, args.out, args.address)
    print(f"Vektoren: {args.out} ({report.files} Parquet-Dateien)")
    print(f"Dokumente: {report.documents}, Abschnitte: {report.chunks} (Ray, {report.resources or 'nichts zu tun'})")
    if report.skipped:
        print(f"Übersprungen: {len(report.skipped)}", file=sys.stderr)
        for item in report.skipped:
            print(f"  - {item.path}: {item.reason}", file=sys.stderr)
    print(f"Dauer: {report.seconds:.1f} s")
    print(
        f"Weiter mit: assistant index --vectors-from {args.out} "
        "(mit demselben Modell und denselben Abschnittseinstellungen)"
    )
    return 0
