"""Speech to text with Workers AI Whisper: a LangChain blob parser and a file loader."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.document_loaders import BaseBlobParser, BaseLoader, Blob
from langchain_core.documents import Document
from pydantic import ConfigDict, Field

from langchain_workersai._base import WorkersAIClientFields
from langchain_workersai._errors import langchain_errors
from workersai.audio import Transcript
from workersai.tasks import SPEECH_RECOGNITION_MODEL

__all__ = ["WorkersAIWhisperLoader", "WorkersAIWhisperParser"]


class WorkersAIWhisperParser(WorkersAIClientFields, BaseBlobParser):
    """Transcribe audio blobs with Workers AI (Whisper or Deepgram nova-3) into Documents.

    Each document's ``page_content`` is the transcript; ``metadata`` carries ``source``,
    ``model``, ``language``, ``duration``, ``word_count``, ``segments`` (start, end, text),
    ``words`` (word, start, end) and ``vtt`` subtitles, as far as the model reports them.
    With ``split="segment"`` every segment becomes its own document with ``start``/``end``
    (handy for retrieval with timestamps).

    The audio goes in the form each model needs: raw bytes for ``@cf/openai/whisper`` and
    ``whisper-tiny-en``, base64 JSON for ``whisper-large-v3-turbo`` (the default),
    raw bytes with an audio ``Content-Type`` for ``@cf/deepgram/nova-3``.

    Lists in metadata are rejected by some vector stores (e.g. Chroma): drop them with
    ``langchain_community.vectorstores.utils.filter_complex_metadata`` if needed.

    Example:
        .. code-block:: python

            from langchain_core.document_loaders import Blob
            from langchain_workersai import WorkersAIWhisperParser

            parser = WorkersAIWhisperParser(language="en")
            [doc] = parser.parse(Blob.from_path("meeting.mp3"))
            doc.page_content, doc.metadata["segments"][0]

        .. code-block:: none

            ('Welcome, everyone. ...', {'start': 0.0, 'end': 2.4, 'text': 'Welcome, everyone.'})
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = SPEECH_RECOGNITION_MODEL
    """Speech-recognition model id."""
    language: str | None = None
    """Spoken language code (whisper-large-v3-turbo, nova-3); detected when unset."""
    task: Literal["transcribe", "translate"] | None = None
    """``"translate"`` transcribes into English (whisper-large-v3-turbo)."""
    split: Literal["file", "segment"] = "file"
    """One document per audio file, or one per segment."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other model inputs (``vad_filter``, ``initial_prompt``, ``beam_size``, ...)."""

    def _options(self, blob: Blob) -> dict[str, Any]:
        options: dict[str, Any] = {"model": self.model, "mime_type": blob.mimetype}
        if self.language is not None:
            options["language"] = self.language
        if self.task is not None:
            options["task"] = self.task
        return {**options, **self.model_kwargs}

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Transcribe one blob."""
        with langchain_errors():
            transcript = self._client.transcribe(blob.as_bytes(), **self._options(blob))
        yield from self._documents(transcript, blob)

    async def alazy_parse(self, blob: Blob) -> AsyncIterator[Document]:
        """Async twin of :meth:`lazy_parse` (uses the async core client)."""
        with langchain_errors():
            transcript = await self._async_client.transcribe(blob.as_bytes(), **self._options(blob))
        for document in self._documents(transcript, blob):
            yield document

    async def aparse(self, blob: Blob) -> list[Document]:
        """Async twin of :meth:`parse`."""
        return [document async for document in self.alazy_parse(blob)]

    def _documents(self, transcript: Transcript, blob: Blob) -> list[Document]:
        source = {"source": blob.source} if blob.source else {}
        if self.split == "segment":
            pieces = transcript.segment_documents()
        else:
            pieces = [(transcript.text, transcript.metadata())]
        return [Document(page_content=text, metadata={**source, **meta}) for text, meta in pieces]


class WorkersAIWhisperLoader(BaseLoader):
    """Load audio files as transcript Documents (see :class:`WorkersAIWhisperParser`).

    Example:
        .. code-block:: python

            from langchain_workersai import WorkersAIWhisperLoader

            loader = WorkersAIWhisperLoader(["intro.mp3", "q-and-a.wav"], split="segment")
            docs = loader.load()          # or: async for doc in loader.alazy_load()
    """

    def __init__(
        self,
        file_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        parser: WorkersAIWhisperParser | None = None,
        **parser_kwargs: Any,
    ) -> None:
        """Args:
        file_path: One audio file or several.
        parser: A configured parser; otherwise one is made from ``parser_kwargs``
            (``model``, ``language``, ``split``, credentials...).
        """
        if isinstance(file_path, (str, os.PathLike)):
            self.file_paths = [Path(file_path)]
        else:
            self.file_paths = [Path(path) for path in file_path]
        if parser is not None and parser_kwargs:
            raise TypeError("pass either parser or parser options, not both")
        self.parser = parser or WorkersAIWhisperParser(**parser_kwargs)

    def lazy_load(self) -> Iterator[Document]:
        for path in self.file_paths:
            yield from self.parser.lazy_parse(Blob.from_path(path))

    async def alazy_load(self) -> AsyncIterator[Document]:
        for path in self.file_paths:
            async for document in self.parser.alazy_parse(Blob.from_path(path)):
                yield document
