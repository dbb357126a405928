"""The chat's CSS and the small scripts of its HTML components, as files (edited as CSS and JS,
read once at import)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent

CSS = (_HERE / "chat.css").read_text(encoding="utf-8") + (_HERE / "memory.css").read_text(encoding="utf-8")
SOURCES_JS = (_HERE / "sources.js").read_text(encoding="utf-8")
DOCUMENT_JS = (_HERE / "document.js").read_text(encoding="utf-8")
PAGE_JS = (_HERE / "page.js").read_text(encoding="utf-8")  # the page's own script (launch(js=...))
RATING_JS = (_HERE / "rating.js").read_text(encoding="utf-8")
