"""The commands' progress bars: tqdm on a terminal, nothing when the output is redirected."""

from __future__ import annotations

import sys
from typing import Any

from ..types import Progress


def progress_bar(enabled: bool, unit: str = "it") -> Progress | None:
    """One tqdm bar per stage; a stage's total may grow (the crawl finds pages as it goes)."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, leave=False, unit=unit)
        bar.total = total
        bar.n = done
        bar.refresh()

    return update
