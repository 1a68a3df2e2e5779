"""Whisper as a LangChain blob parser and loader (composed cassettes, wire reference §8.3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.document_loaders import Blob
from langchain_core.exceptions import ModelInvalidRequestError
from pydantic import ValidationError

from langchain_workersai import WorkersAIWhisperLoader, WorkersAIWhisperParser

FIXTURES = Path(__file__).parent.parent / "fixtures"
SPEECH = FIXTURES / "speech.wav"
SEGMENTS = [
    {"start": 0.0, "end": 0.11, "text": "Hello from"},
    {"start": 0.11, "end": 0.25, "text": "Workers AI."},
]
WORDS = [
    {"word": "Hello", "start": 0.0, "end": 0.06},
    {"word": "from", "start": 0.06, "end": 0.11},
    {"word": "Workers", "start": 0.11, "end": 0.18},
    {"word": "AI.", "start": 0.18, "end": 0.25},
]


class TestWorkersAIWhisperParser:
    @pytest.mark.vcr
    def test_turbo_document_with_timings_in_metadata(self) -> None:
        [document] = WorkersAIWhisperParser(language="en").parse(Blob.from_path(SPEECH))
        assert document.page_content == "Hello from Workers AI."
        vtt = document.metadata.pop("vtt")
        assert vtt.startswith("WEBVTT\n\n00:00.000 --> 00:00.110")
        assert document.metadata == {
            "source": str(SPEECH),
            "model": "@cf/openai/whisper-large-v3-turbo",
            "word_count": 4,
            "language": "en",
            "duration": 0.25,
            "segments": SEGMENTS,
            "words": WORDS,
        }

    @pytest.mark.vcr
    @pytest.mark.parametrize("model", ["@cf/openai/whisper", "@cf/openai/whisper-tiny-en"])
    def test_whisper_raw_upload_segments_from_vtt(self, model: str) -> None:
        blob = Blob.from_data(SPEECH.read_bytes(), mime_type="audio/x-wav")
        [document] = WorkersAIWhisperParser(model=model).parse(blob)
        assert document.page_content == "Hello from Workers AI."
        assert "source" not in document.metadata  # in-memory blob
        assert document.metadata["segments"] == SEGMENTS
        assert document.metadata["words"] == WORDS
        assert "language" not in document.metadata

    @pytest.mark.vcr
    def test_one_document_per_segment(self) -> None:
        documents = WorkersAIWhisperParser(split="segment").parse(Blob.from_path(SPEECH))
        assert [d.page_content for d in documents] == ["Hello from", "Workers AI."]
        assert documents[1].metadata == {
            "source": str(SPEECH),
            "model": "@cf/openai/whisper-large-v3-turbo",
            "language": "en",
            "segment": 1,
            "start": 0.11,
            "end": 0.25,
            "words": WORDS[2:],
        }

    @pytest.mark.vcr
    def test_nova_3(self) -> None:
        parser = WorkersAIWhisperParser(
            model="@cf/deepgram/nova-3", language="en", model_kwargs={"smart_format": True}
        )
        [document] = parser.parse(Blob.from_path(SPEECH))
        assert document.page_content == "Hello from Workers AI."
        assert document.metadata["words"][-1] == {"word": "AI.", "start": 0.18, "end": 0.25}

    @pytest.mark.vcr
    async def test_async_parse(self) -> None:
        documents = await WorkersAIWhisperParser(language="en").aparse(Blob.from_path(SPEECH))
        assert documents[0].page_content == "Hello from Workers AI."

    def test_options_whisper_does_not_take_are_a_langchain_error(self) -> None:
        parser = WorkersAIWhisperParser(
            model="@cf/openai/whisper",
            language="fr",
            account_id="a",
            api_token="t",
            base_url="http://127.0.0.1:9",
        )
        with pytest.raises(ModelInvalidRequestError, match="does not accept language"):
            parser.parse(Blob.from_path(SPEECH))

    def test_unknown_fields_are_rejected(self) -> None:
        with pytest.raises(ValidationError):
            WorkersAIWhisperParser(langauge="en")


class TestWorkersAIWhisperLoader:
    @pytest.mark.vcr
    def test_load_files(self) -> None:
        documents = WorkersAIWhisperLoader([SPEECH, str(SPEECH)], language="en").load()
        assert [d.page_content for d in documents] == ["Hello from Workers AI."] * 2
        assert documents[0].metadata["source"] == str(SPEECH)

    @pytest.mark.vcr
    async def test_alazy_load(self) -> None:
        loader = WorkersAIWhisperLoader(SPEECH, split="segment", language="en")
        documents = [d async for d in loader.alazy_load()]
        assert [d.metadata["start"] for d in documents] == [0.0, 0.11]

    def test_parser_or_options_not_both(self) -> None:
        with pytest.raises(TypeError, match="not both"):
            WorkersAIWhisperLoader(SPEECH, parser=WorkersAIWhisperParser(), language="en")
