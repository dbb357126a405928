"""One Settings object, built once at the entry point.

Precedence: defaults < config file (TOML) < ``ASSISTANT_*`` environment variables < CLI flags.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

RETRIEVAL_MODES = ("hybrid", "lexical", "dense")
# How many bytes the XML of a DOCX may unpack to per byte of max_file_bytes (see
# Settings.max_unpacked_bytes).
UNPACKED_PER_FILE_BYTE = 4
ANSWER_MODES = ("auto", "extractive", "llm")
EMBED_BACKENDS = ("auto", "torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
# Default worker processes for indexing: the CPUs this process may use, at most this many (beyond,
# the building process, which numbers terms and writes the tables, is the bottleneck).
MAX_DEFAULT_INDEX_WORKERS = 8
MAX_INDEX_WORKERS = 256


def default_index_workers() -> int:
    """The CPUs this process may use, at most :data:`MAX_DEFAULT_INDEX_WORKERS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_INDEX_WORKERS))


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    # Embedding model: a hub name or a local folder. "none" disables dense retrieval.
    model: str = "intfloat/multilingual-e5-small"
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    embed_batch_size: int = 32
    # What runs the embedding model: "torch", "onnx" / "onnx-int8" (ONNX Runtime, the [onnx]
    # extra), "openvino" / "openvino-int8" (the [openvino] extra), or "auto": the fastest of the
    # installed ones whose vectors equal torch's (index/embedder.py resolve_backend). Measured on
    # 2 cores (README "Growing"): openvino 3.5x torch's passages/s, onnx 1.44x, both cosine
    # 1.0000 to torch; the int8 backends are faster still but never chosen by "auto".
    embed_backend: str = "auto"
    # Seconds to wait for the model hub before falling back to lexical-only retrieval.
    hub_timeout: float = 1.0
    # Extractive question-answering model (reader): a hub name or a local folder. "none" disables it.
    reader: str = "deepset/gelectra-base-germanquad"
    chunk_size: int = 1000
    chunk_overlap: int = 150
    retrieval: str = "hybrid"
    top_k: int = 5
    rrf_k: int = 60
    # Weight of the whole-document BM25 score in a chunk's lexical score (0 = chunk alone).
    doc_weight: float = 2.0
    # Weight of the character 4-gram BM25 score mixed into the lexical score (index/ngrams.py);
    # 0 = word BM25 alone, and `assistant index` then builds no n-gram lists.
    ngram_weight: float = 2.0
    candidates: int = 50
    # Corpus files larger than this are skipped with a note. The default stays at 50 MB because
    # a long text is chunked and its words gathered segment by segment (ingest/chunking.py):
    # indexing a 49 MB text peaks at ~9x its size (~450 MB, most of it its n-gram and word
    # lists; 1.65 GB before, issue 14), see benchmarks/ingest_memory.py.
    max_file_bytes: int = 50_000_000
    progress: bool = True
    # Worker processes that parse, chunk and analyse new or changed documents (index/parallel.py);
    # 1 = all in the building process. The index is the same, byte for byte, with any number.
    index_workers: int = default_index_workers()
    # Answers: "extractive" (offline, default without an endpoint), "llm", or "auto" (llm when
    # llm_url is set). The endpoint speaks the OpenAI chat-completions protocol.
    answer_mode: str = "auto"
    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = dataclasses.field(default="", repr=False)
    # Seconds the endpoint may take to connect, to begin its reply and between two reads; the
    # whole reply must be in within four times that (answer/llm.py reply_deadline).
    llm_timeout: float = 30.0
    # `assistant crawl` (ingest/web/): seconds to connect and between two reads (a whole
    # response must be in within four times that), the most bytes one response may have, the
    # User-Agent it sends and matches robots.txt with, the pause between two requests to one
    # host (robots.txt's Crawl-delay wins when longer), and how many pages one run fetches.
    crawl_timeout: float = 10.0
    crawl_max_bytes: int = 20_000_000
    # Site operators read it in their logs: put a contact in, e.g. "... (+https://www.cluster.de/kontakt)".
    crawl_user_agent: str = "Cluster-Dokumenten-Assistent/0.1 (Dokumenten-Assistent eines Innovationsclusters)"
    crawl_delay: float = 1.0
    crawl_max_pages: int = 200

    def __post_init__(self) -> None:
        if self.retrieval not in RETRIEVAL_MODES:
            raise ConfigError(f"retrieval={self.retrieval!r} ist ungültig; erlaubt: {', '.join(RETRIEVAL_MODES)}")
        if self.embed_backend not in EMBED_BACKENDS:
            raise ConfigError(
                f"embed_backend={self.embed_backend!r} ist ungültig; erlaubt: {', '.join(EMBED_BACKENDS)}"
            )
        if self.chunk_size < 50:
            raise ConfigError(f"chunk_size={self.chunk_size} ist zu klein (mindestens 50)")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk_overlap={self.chunk_overlap} muss zwischen 0 und chunk_size ({self.chunk_size}) liegen"
            )
        for name in ("top_k", "rrf_k", "candidates", "embed_batch_size", "max_file_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} muss mindestens 1 sein")
        if not 1 <= self.index_workers <= MAX_INDEX_WORKERS:
            raise ConfigError(
                f"index_workers={self.index_workers} ist ungültig: erlaubt sind 1 (alles in einem Prozess) "
                f"bis {MAX_INDEX_WORKERS} Hilfsprozesse"
            )
        if self.answer_mode not in ANSWER_MODES:
            raise ConfigError(f"answer_mode={self.answer_mode!r} ist ungültig; erlaubt: {', '.join(ANSWER_MODES)}")
        if self.answer_mode == "llm" and not (self.llm_url and self.llm_model):
            raise ConfigError("answer_mode=llm braucht llm_url und llm_model (ASSISTANT_LLM_URL, ASSISTANT_LLM_MODEL)")
        for name in ("hub_timeout", "doc_weight", "ngram_weight", "llm_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}={value} muss eine Zahl größer oder gleich 0 sein")
        for name in ("crawl_max_bytes", "crawl_max_pages"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} muss mindestens 1 sein")
        if not self.crawl_user_agent.strip() or not all(" " <= ch <= "~" for ch in self.crawl_user_agent):
            raise ConfigError(f"crawl_user_agent={self.crawl_user_agent!r} muss aus druckbaren ASCII-Zeichen bestehen")
        if not math.isfinite(self.crawl_timeout) or self.crawl_timeout <= 0:
            raise ConfigError(f"crawl_timeout={self.crawl_timeout} muss eine Zahl größer als 0 sein")
        if not math.isfinite(self.crawl_delay) or self.crawl_delay < 0:
            raise ConfigError(f"crawl_delay={self.crawl_delay} muss eine Zahl größer oder gleich 0 sein")

    @property
    def max_unpacked_bytes(self) -> int:
        """How many bytes the parts of a DOCX may unpack to, counted as they are inflated (its
        zip headers may lie): ``UNPACKED_PER_FILE_BYTE`` times ``max_file_bytes``, 200 MB at the
        default. A text file may carry ``max_file_bytes`` of text; the same text as Word XML,
        every run wrapped in tags, is a few times as long, so a DOCX holding as much text as an
        admissible text file stays under it. More is a zip bomb (issue 14: a 1.8 MB DOCX that
        unpacked to 1.9 GB took 2.16 GB of memory). Images and fonts count with the sizes their
        headers claim; they carry no text and are never unpacked."""
        return UNPACKED_PER_FILE_BYTE * self.max_file_bytes

    @property
    def uses_llm(self) -> bool:
        return self.answer_mode == "llm" or (self.answer_mode == "auto" and bool(self.llm_url and self.llm_model))

    @property
    def dense_enabled(self) -> bool:
        return not is_disabled(self.model)

    @property
    def reader_enabled(self) -> bool:
        return not is_disabled(self.reader)

    @property
    def wants_dense(self) -> bool:
        """Whether dense search is asked for: a model, and a retrieval mode that uses vectors."""
        return self.retrieval != "lexical" and self.dense_enabled

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **_coerce_all(changes, source="Aufruf"))

    @classmethod
    def load(
        cls,
        config_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from defaults, a TOML file, the environment and explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config_file or (Path(env["ASSISTANT_CONFIG"]) if env.get("ASSISTANT_CONFIG") else None)
        if path is not None:
            values.update(_coerce_all(read_toml(path), source=str(path)))
        env_values = {
            f.name: env[f"ASSISTANT_{f.name.upper()}"] for f in fields(cls) if f"ASSISTANT_{f.name.upper()}" in env
        }
        values.update(_coerce_all(env_values, source="Umgebung (ASSISTANT_*)"))
        values.update(_coerce_all({k: v for k, v in overrides.items() if v is not None}, source="Aufruf"))
        return cls(**values)


def is_disabled(model: str) -> bool:
    """Whether a model setting (``model``, ``reader``) switches its model off: "none", "off" or empty."""
    return model.strip().lower() in ("", "none", "off")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Konfigurationsdatei {path} nicht gefunden") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Konfigurationsdatei {path} ist kein gültiges TOML: {exc}") from None
    return data.get("assistant", data)


def _coerce_all(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = {f.name: f for f in fields(Settings)}
    result: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            raise ConfigError(f"Unbekannte Einstellung {name!r} in {source}; bekannt sind: {', '.join(sorted(known))}")
        result[name] = _coerce(name, raw, known[name].default, source)
    return result


def _coerce(name: str, raw: Any, default: Any, source: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "ja", "on"):
                return True
            if text in ("0", "false", "no", "nein", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, (int, float)) and isinstance(raw, bool):
            raise ValueError(raw)  # TOML ``top_k = true`` is a mistake, not 1
        if isinstance(default, int):
            if isinstance(raw, float):
                if not raw.is_integer():
                    raise ValueError(raw)  # no silent truncation of 2.5 to 2
                return int(raw)
            return int(str(raw).strip()) if isinstance(raw, str) else int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Einstellung {name}={raw!r} aus {source} ist ungültig (erwartet: {type(default).__name__})"
        ) from None
