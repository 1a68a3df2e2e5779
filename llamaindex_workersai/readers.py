"""Speech to text with Workers AI Whisper as a LlamaIndex reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from llama_index.core.readers.base import BasePydanticReader
from llama_index.core.schema import Document
from pydantic import Field, PrivateAttr, SecretStr

from llamaindex_workersai._base import WorkersAIConnection, restore_connection
from workersai import GatewayOptions
from workersai.audio import Transcript
from workersai.integration import mime_for_path
from workersai.tasks import SPEECH_RECOGNITION_MODEL

__all__ = ["WorkersAIWhisperReader"]

# Timings are for the application, not for embeddings or prompts.
_TIMING_KEYS = ["words", "segments", "vtt"]


class WorkersAIWhisperReader(BasePydanticReader):
    """Transcribe audio files into LlamaIndex Documents with Workers AI.

    Each document's text is the transcript; its metadata carries ``file_path``/``file_name``,
    ``model``, ``language``, ``duration``, ``word_count`` and the ``segments``, ``words`` and
    ``vtt`` timings (kept out of embeddings and LLM prompts). ``split="segment"`` makes one
    document per segment with ``start``/``end``.

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

    _connection: WorkersAIConnection = PrivateAttr()

    def __init__(
        self,
        model: str = SPEECH_RECOGNITION_MODEL,
        *,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        gateway: str | GatewayOptions | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        self._connection = WorkersAIConnection(
            account_id,
            api_token,
            base_url=base_url,
            gateway=gateway,
            timeout=timeout,
            max_retries=max_retries,
        )

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAIWhisperReader"

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        restore_connection(self, state)

    def _options(self, mime_type: str | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "model": self.model,
            "mime_type": mime_type,
            "language": self.language,
            "task": self.task,
        }
        return {**{k: v for k, v in options.items() if v is not None}, **self.model_kwargs}

    @staticmethod
    def _read(file: str | Path | bytes, fs: Any) -> tuple[bytes, dict[str, Any], str | None]:
        if isinstance(file, bytes):
            return file, {}, None
        path = Path(file)
        info = {"file_path": str(path), "file_name": path.name}
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
        data, info, mime = self._read(file, fs)
        transcript = self._connection.client.transcribe(data, **self._options(mime))
        return self._documents(transcript, {**info, **(extra_info or {})})

    async def aload_data(
        self,
        file: str | Path | bytes,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """Async twin of :meth:`load_data` (uses the async core client)."""
        data, info, mime = self._read(file, fs)
        transcript = await self._connection.async_client.transcribe(data, **self._options(mime))
        return self._documents(transcript, {**info, **(extra_info or {})})

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
