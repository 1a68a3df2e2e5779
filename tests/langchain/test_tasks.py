"""Translation and summarization Runnables (composed cassettes, wire reference §7)."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from langchain_workersai import WorkersAISummarizer, WorkersAITranslator
from workersai import InvalidInputError


class TestWorkersAITranslator:
    @pytest.mark.vcr
    def test_invoke_string_and_dict(self) -> None:
        translator = WorkersAITranslator(target_lang="fr")
        assert translator.invoke("Hello, world") == "Bonjour le monde"
        german = translator.invoke({"text": "The weather is lovely today.", "target_lang": "de"})
        assert german == "Das Wetter ist heute herrlich."

    @pytest.mark.vcr
    def test_in_a_chain_and_batched(self) -> None:
        chain = PromptTemplate.from_template("{greeting}") | WorkersAITranslator(target_lang="ja")
        assert chain.invoke({"greeting": "Good morning"}) == "おはようございます"
        translations = WorkersAITranslator(target_lang="fr").batch(["Hello, world"] * 2)
        assert translations == ["Bonjour le monde"] * 2

    @pytest.mark.vcr
    async def test_ainvoke(self) -> None:
        translator = WorkersAITranslator(target_lang="fr")
        assert await translator.ainvoke("Hello, world") == "Bonjour le monde"

    def test_wrong_model_is_a_langchain_error(self) -> None:
        translator = WorkersAITranslator(
            target_lang="fr",
            model="@cf/openai/whisper",
            account_id="a",
            api_token="t",
            base_url="http://127.0.0.1:9",
        )
        with pytest.raises(ModelInvalidRequestError, match="not Translation"):
            translator.invoke("Hello")
        with pytest.raises(ModelInvalidRequestError, match="expected a string or a dict"):
            translator.invoke({"txt": "Hello"})


class TestWorkersAISummarizer:
    @pytest.mark.vcr
    def test_summarize_then_parse(self) -> None:
        text = "Workers AI lets you run machine learning models on Cloudflare's network. " * 5
        chain = WorkersAISummarizer(max_length=60) | StrOutputParser()
        assert chain.invoke(text) == (
            "Workers AI runs machine learning models on Cloudflare's global network."
        )

    @pytest.mark.vcr
    async def test_ainvoke_dict(self) -> None:
        summary = await WorkersAISummarizer().ainvoke({"text": "A long text. " * 20})
        assert summary.startswith("Workers AI runs")


@pytest.mark.parametrize(
    ("runnable", "given", "accepted"),
    [
        (
            WorkersAITranslator(target_lang="fr", account_id="a", api_token="t"),
            {"text": "Hello", "target_language": "de"},
            "model, source_lang, target_lang, text, timeout",
        ),
        (
            WorkersAISummarizer(account_id="a", api_token="t"),
            {"text": "A long text.", "max_tokens": 50},
            "max_length, model, text, timeout",
        ),
    ],
)
async def test_unknown_keys_are_invalid_input_listing_the_accepted_ones(
    runnable: WorkersAITranslator | WorkersAISummarizer, given: dict, accepted: str
) -> None:
    unknown = next(k for k in given if k != "text")
    with pytest.raises(ModelInvalidRequestError, match=f"{unknown}.*{accepted}") as info:
        runnable.invoke(given)
    assert isinstance(info.value, InvalidInputError)
    assert info.value.field == unknown
    with pytest.raises(ModelInvalidRequestError, match=accepted):
        await runnable.ainvoke(given)
    with pytest.raises(ModelInvalidRequestError, match=accepted):
        runnable.invoke("Hello", **{unknown: 1})  # per-call keyword arguments too
