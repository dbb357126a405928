"""The settings an evaluation compares (one variant per ``--set`` or ``--config``), the index
folder each one uses, and building those indexes when they are missing or stale."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings, read_toml
from ..errors import AssistantError, ConfigError, EmbedderUnavailableError
from ..index.build import build_index
from ..index.embedder import Encoder, load_embedder
from ..index.format import current_generation, read_manifest
from ..index.freshness import needs_rebuild

Log = Callable[[str], None]


@dataclass
class Variant:
    name: str
    settings: Settings
    own_index: bool = False  # the variant names its own index folder (in its --set or config file)
    base: Settings | None = None  # the settings without the variant's changes
    index_flag: bool = False  # the index folder was given on the command line


def parse_set(text: str) -> dict[str, str]:
    """``"retrieval=hybrid,top_k=5"`` -> ``{"retrieval": "hybrid", "top_k": "5"}``."""
    changes: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"--set {text!r}: {part!r} ist kein Paar Name=Wert")
        name, value = (x.strip() for x in part.split("=", 1))
        if not name:
            raise ConfigError(f"--set {text!r}: Name fehlt vor '='")
        changes[name] = value
    return changes


def make_variants(
    sets: Sequence[str] = (),
    configs: Sequence[Path] = (),
    k: int = 10,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> list[Variant]:
    """One variant per ``--set`` and per ``--config`` file (none given: the settings as they are).
    ``overrides`` are the command-line flags (corpus_dir, index_dir, model, reader); ``k`` is every
    variant's top_k unless the variant sets top_k itself."""
    overrides = {n: v for n, v in overrides.items() if v is not None}
    base = Settings.load(env=env, **overrides)
    variants: list[Variant] = []
    flag = "index_dir" in overrides
    for path in configs:
        explicit = read_toml(Path(path))
        settings = Settings.load(config_file=Path(path), env=env, **overrides)
        if "top_k" not in explicit:
            settings = settings.replace(top_k=k)
        variants.append(Variant(Path(path).stem, settings, "index_dir" in explicit and not flag, base, flag))
    for text in sets:
        changes = parse_set(text)
        if "top_k" not in changes:
            changes["top_k"] = str(k)
        variants.append(
            Variant(text.strip() or "standard", base.replace(**changes), "index_dir" in changes, base, flag)
        )
    if not variants:
        variants.append(Variant("standard", base.replace(top_k=k), False, base, flag))
    names: Counter[str] = Counter()
    for v in variants:
        names[v.name] += 1
        if names[v.name] > 1:
            v.name = f"{v.name} #{names[v.name]}"
    return variants


def _index_key(settings: Settings) -> tuple[str, int, int, str]:
    return (str(settings.corpus_dir.resolve()), settings.chunk_size, settings.chunk_overlap, settings.model)


def assign_index_dirs(variants: Sequence[Variant], out_dir: Path) -> None:
    """Variants with the corpus, chunking and model of the base settings share the base index
    folder; the others get one of their own, ``<out>/index-<hash>``. Without --index, a corpus
    other than the shipped one is indexed in ``<out>/index``, never in the default ``index/``."""
    if not variants:
        return
    default = Settings()
    base = variants[0].base or variants[0].settings
    base_dir = base.index_dir
    if (
        not variants[0].index_flag
        and base.index_dir == default.index_dir
        and base.corpus_dir.resolve() != default.corpus_dir.resolve()
    ):
        base_dir = out_dir / "index"
    base_key = _index_key(base)
    for v in variants:
        if v.own_index:
            continue
        key = _index_key(v.settings)
        if key == base_key:
            v.settings = v.settings.replace(index_dir=base_dir)
        else:
            digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:8]
            v.settings = v.settings.replace(index_dir=out_dir / f"index-{digest}")


@dataclass(frozen=True)
class PreparedIndex:
    """An index folder ready for the variants that use it."""

    built: str | None  # why it was (re)built, None when it was current
    embedder: Encoder | None  # the model its variants search with (None: lexical only)


def prepare_indexes(variants: Sequence[Variant], log: Log) -> dict[str, PreparedIndex]:
    """Build each index folder the variants use when it is missing or stale; load each embedding
    model once. Returns the prepared index by index folder."""
    embedders: dict[str, Encoder | None] = {}
    prepared: dict[str, PreparedIndex] = {}
    for v in variants:
        s = v.settings
        key = str(s.index_dir)
        if key in prepared:
            continue
        users = [u.settings for u in variants if str(u.settings.index_dir) == key]
        dense = any(u.wants_dense for u in users)
        embedder = None
        if dense:
            if s.model not in embedders:
                try:
                    embedders[s.model] = load_embedder(
                        s.model,
                        s.query_prefix,
                        s.passage_prefix,
                        s.embed_batch_size,
                        s.hub_timeout,
                        progress=False,
                        backend=s.embed_backend,
                    )
                except EmbedderUnavailableError as exc:
                    log(f"Warnung: {exc}")
                    embedders[s.model] = None
            embedder = embedders[s.model]
        reason = needs_rebuild(s, embedder)
        if reason:
            build = s
            has_dense = False
            if current_generation(s.index_dir) is not None:
                try:
                    has_dense = read_manifest(s.index_dir).dense
                except AssistantError:
                    pass
            if embedder is None and not has_dense:
                build = s.replace(model="none")  # no vectors wanted or possible: don't try again
            log(f"Index {s.index_dir} wird gebaut ({reason}) …")
            report = build_index(build.replace(progress=False), embedder=embedder)
            for warning in report.warnings:
                log(f"Warnung: {warning}")
            log(
                f"Index {s.index_dir}: {report.documents} Dokumente, {report.chunks} Abschnitte, {report.seconds:.1f} s"
            )
        prepared[key] = PreparedIndex(reason, embedder)
    return prepared
