"""The project's own errors. Library code raises these; only the CLI and UI translate them."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error the assistant raises on purpose."""


class ConfigError(AssistantError):
    """A setting has an invalid value or a config file cannot be read."""


class CorpusError(AssistantError):
    """The corpus folder is missing or yielded no usable document."""


class DocumentError(AssistantError):
    """One file cannot be turned into a document; the message names the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotFoundError(AssistantError):
    """No index has been built in the given folder."""


class IndexMismatchError(AssistantError):
    """The index was built with other settings (model, chunking) than the ones in use."""


class IndexCorruptError(AssistantError):
    """Index files are missing or unreadable."""


class IndexClosedError(AssistantError):
    """An index generation was read after :meth:`~assistant.index.reader.IndexData.close` (it was
    replaced by a re-index and given back)."""


class IndexWriteError(AssistantError):
    """A build could not write its new generation (disk full, no permission); the previous one
    stays in use, and what the build had written is removed again."""


class EmbedderUnavailableError(AssistantError):
    """The embedding model can be neither found locally nor downloaded."""


class ReaderUnavailableError(AssistantError):
    """The extractive question-answering model (the reader) can be neither found locally nor downloaded."""


class TestSetError(AssistantError):
    """An evaluation test set cannot be read: a malformed line, a missing field, a duplicate id."""

    __test__ = False  # not a pytest test class, despite the name


class ResumeError(AssistantError):
    """Earlier evaluation results in the output folder were made with other settings."""


class LLMError(AssistantError):
    """The language model endpoint answered with an error or an unreadable reply."""


class LLMUnavailableError(LLMError):
    """The language model endpoint could not be reached or did not answer in time."""


class CrawlError(AssistantError):
    """``assistant crawl`` cannot run: a start address is no web address, or the corpus folder
    for web pages cannot be used. Single pages that fail are skipped with a reason instead."""


class InputError(AssistantError):
    """What a user typed or sent (a date, a question, a file) cannot be used; the message says why."""


class AnswerModelError(AssistantError):
    """The shipped answer models (assistant/answer/models/) are missing or unreadable."""
