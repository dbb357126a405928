"""Command line: ``assistant index | search | ask | eval | chat | bench | crawl | embed``. The only place that
prints and picks exit codes: the project's errors become German messages here; everything else
lives in the library. Arguments: :mod:`.parser`; what each command does: :mod:`.commands`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from ..errors import AssistantError, ConfigError
from .commands import COMMANDS, ensure_index, print_answer, serve
from .parser import build_parser, settings_from

EXIT_ERROR = 1
EXIT_USAGE = 2

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "build_parser", "ensure_index", "main", "print_answer", "serve", "settings_from"]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="Warnung: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(COMMANDS[args.command](args))
    except ConfigError as exc:
        print(f"Fehler in der Konfiguration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AssistantError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Abgebrochen.", file=sys.stderr)
        return 130
