"""``WorkersAIWhisperReader`` (composed cassettes, wire reference §8.3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import SimpleDirectoryReader
from llama_index.core.schema import MetadataMode

from llamaindex_workersai import WorkersAIWhisperReader
from workersai import InvalidInputError

FIXTURES = Path(__file__).parent.parent / "fixtures"
SPEECH = FIXTURES / "speech.wav"


class TestWorkersAIWhisperReader:
    @pytest.mark.vcr
    def test_load_data_with_timings_kept_out_of_prompts(self) -> None:
        [document] = WorkersAIWhisperReader(language="en").load_data(SPEECH)
        assert document.text == "Hello from Workers AI."
        assert document.metadata["file_name"] == "speech.wav"
        assert document.metadata["language"] == "en"
        assert document.metadata["duration"] == 0.25
        assert document.metadata["segments"][0] == {"start": 0.0, "end": 0.11, "text": "Hello from"}
        assert document.metadata["vtt"].startswith("WEBVTT")
        for mode in (MetadataMode.EMBED, MetadataMode.LLM):
            content = document.get_content(metadata_mode=mode)
            assert "language: en" in content
            assert "WEBVTT" not in content
            assert "segments" not in content

    @pytest.mark.vcr
    async def test_aload_data_from_bytes_per_segment(self) -> None:
        reader = WorkersAIWhisperReader(
            "@cf/openai/whisper", split="segment", account_id=None, max_retries=1
        )
        documents = await reader.aload_data(SPEECH.read_bytes(), extra_info={"speaker": "ana"})
        assert [d.text for d in documents] == ["Hello from", "Workers AI."]
        assert documents[1].metadata["start"] == 0.11
        assert documents[1].metadata["speaker"] == "ana"

    @pytest.mark.vcr
    def test_as_a_file_extractor(self) -> None:
        reader = SimpleDirectoryReader(
            input_files=[SPEECH],
            file_extractor={".wav": WorkersAIWhisperReader(language="en")},
        )
        [document] = reader.load_data()
        assert document.text == "Hello from Workers AI."
        assert document.metadata["file_name"] == "speech.wav"

    def test_credentials_are_not_fields(self) -> None:
        reader = WorkersAIWhisperReader(account_id="acct", api_token="super-secret-token")
        assert "super-secret-token" not in reader.model_dump_json()
        assert "super-secret-token" not in repr(reader)
        assert reader.is_remote

    def test_bad_options_fail_before_sending(self) -> None:
        reader = WorkersAIWhisperReader(
            "@cf/openai/whisper", language="fr", base_url="http://127.0.0.1:9"
        )
        with pytest.raises(InvalidInputError, match="does not accept language"):
            reader.load_data(SPEECH)
