"""Speech to text with Workers AI Whisper as a LlamaIndex reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from llama_index.core.readers.base import BasePydanticReader
from llama_index.core.schema import Document
from pydantic import Field

from llamaindex_workersai._base import WorkersAIClientFields
from workersai.audio import Transcript
from workersai.integration import mime_for_path
from workersai.tasks import SPEECH_RECOGNITION_MODEL

__all__ = ["WorkersAIWhisperReader"]

# Timings are for the application, not for embeddings or prompts.
_TIMING_KEYS = ["words", "segments", "vtt"]


class WorkersAIWhisperReader(WorkersAIClientFields, BasePydanticReader):
    """Transcribe audio files into LlamaIndex Documents with Workers AI.

    Each document's text is the transcript; its metadata carries ``file_path``/``file_name``,
    ``model``, ``language``, ``duration``, ``word_count`` and the ``segments``, ``words`` and
    ``vtt`` timings (kept out of embeddings and LLM prompts). ``split="segment"`` makes one
    document per segment with ``start``/``end``.

    Connection settings (``account_id``, ``api_token``/``api_key``, ``base_url``,
    ``gateway``, ``timeout``, ``max_retries``, ``http_client``, ``async_http_client``) as in
    :mod:`llamaindex_workersai._base`.

    Works as a file extractor too:
    ``SimpleDirectoryReader("talks/", file_extractor={".mp3": WorkersAIWhisperReader()})``.

    Example:
        .. code-block:: python

            from llamaindex_workersai import WorkersAIWhisperReader

            reader = WorkersAIWhisperReader(language="en")
            [doc] = reader.load_data("meeting.mp3")
            doc.text, doc.metadata["duration"]
            docs = await reader.aload_data("meeting.mp3")   # async client
    """

    is_remote: bool = True
    model: str = Field(default=SPEECH_RECOGNITION_MODEL, description="Speech model id.")
    language: str | None = Field(default=None, description="Spoken language code.")
    task: Literal["transcribe", "translate"] | None = Field(
        default=None, description="'translate' transcribes into English (turbo)."
    )
    split: Literal["file", "segment"] = Field(
        default="file", description="One document per file, or one per segment."
    )
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Other model inputs (vad_filter, initial_prompt...)."
    )

    def __init__(self, model: str = SPEECH_RECOGNITION_MODEL, **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAIWhisperReader"

    def _options(self, mime_type: str | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "model": self.model,
            "mime_type": mime_type,
            "language": self.language,
            "task": self.task,
        }
        return {**{k: v for k, v in options.items() if v is not None}, **self.model_kwargs}

    @staticmethod
    def _read(
        file: str | Path | bytes, fs: Any, extra_info: dict[str, Any] | None
    ) -> tuple[bytes, dict[str, Any], str | None]:
        """``(audio, document metadata, media type)`` of one file (a path, or its bytes)."""
        if isinstance(file, bytes):
            return file, dict(extra_info or {}), None
        path = Path(file)
        info = {"file_path": str(path), "file_name": path.name, **(extra_info or {})}
        if fs is not None:
            with fs.open(str(path), "rb") as handle:
                return handle.read(), info, mime_for_path(path)
        return path.read_bytes(), info, mime_for_path(path)

    def load_data(
        self,
        file: str | Path | bytes,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """Transcribe one audio file (a path, or its bytes)."""
        data, info, mime = self._read(file, fs, extra_info)
        transcript = self._connection.client.transcribe(data, **self._options(mime))
        return self._documents(transcript, info)

    async def aload_data(
        self,
        file: str | Path | bytes,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """Async twin of :meth:`load_data` (uses the async core client)."""
        data, info, mime = self._read(file, fs, extra_info)
        transcript = await self._connection.async_client.transcribe(data, **self._options(mime))
        return self._documents(transcript, info)

    def _documents(self, transcript: Transcript, extra: dict[str, Any]) -> list[Document]:
        if self.split == "segment" and transcript.segments:
            pieces = transcript.segment_documents()
            excluded = ["words"]
        else:
            pieces = [(transcript.text, transcript.metadata())]
            excluded = list(_TIMING_KEYS)
        return [
            Document(
                text=text,
                metadata={**extra, **meta},
                excluded_embed_metadata_keys=list(excluded),
                excluded_llm_metadata_keys=list(excluded),
            )
            for text, meta in pieces
        ]
