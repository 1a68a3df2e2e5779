"""Small Workers AI tasks as LangChain Runnables: translation and summarization.

Thin wrappers over the core's task table (:mod:`workersai.tasks`); they compose with
prompts, chat models and output parsers like any Runnable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict

from langchain_workersai._base import WorkersAIClientFields
from langchain_workersai._errors import langchain_errors
from workersai.errors import InvalidInputError
from workersai.integration import per_call_options
from workersai.tasks import SUMMARIZATION_MODEL, TRANSLATION_MODEL

__all__ = ["WorkersAISummarizer", "WorkersAITranslator"]

TextInput = str | PromptValue | Mapping[str, Any]


# What a dict input (or a per-call keyword) may hold besides the text: the core method's
# keyword arguments.
_TRANSLATE_KEYS = frozenset({"target_lang", "source_lang", "model", "timeout"})
_SUMMARIZE_KEYS = frozenset({"max_length", "model", "timeout"})


def _text_and_options(
    input_: TextInput, kwargs: Mapping[str, Any], accepted: frozenset[str], key: str = "text"
) -> tuple[str, dict[str, Any]]:
    options: dict[str, Any] = {}
    if isinstance(input_, PromptValue):
        text = input_.to_string()
    elif isinstance(input_, str):
        text = input_
    elif isinstance(input_, Mapping) and isinstance(input_.get(key), str):
        options = dict(input_)
        text = options.pop(key)
    else:
        raise InvalidInputError(
            f"expected a string or a dict with {key!r}, got {type(input_).__name__}"
        )
    options.update(per_call_options(kwargs))  # request_timeout is the timeout
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InvalidInputError(
            f"unknown input {', '.join(map(repr, unknown))}; accepted: "
            f"{', '.join(sorted({key, *accepted}))}",
            field=unknown[0],
        )
    return text, options


class WorkersAITranslator(WorkersAIClientFields, RunnableSerializable[TextInput, str]):
    """Translate text with Workers AI (``@cf/meta/m2m100-1.2b``, 100 languages).

    Example:
        .. code-block:: python

            from langchain_workersai import WorkersAITranslator

            to_french = WorkersAITranslator(target_lang="fr")
            to_french.invoke("Hello, world")                       # 'Bonjour le monde'
            to_french.invoke({"text": "Guten Tag", "source_lang": "de"})
            chat_model | StrOutputParser() | to_french             # translate an answer
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    target_lang: str
    """Language code to translate into (``"fr"``, ``"de"``, ``"ja"``, ...)."""
    source_lang: str | None = None
    """Language code of the input (Workers AI assumes English when unset)."""
    model: str = TRANSLATION_MODEL

    def _args(self, input_: TextInput, kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        text, options = _text_and_options(input_, kwargs, _TRANSLATE_KEYS)
        merged = {
            "target_lang": self.target_lang,
            "source_lang": self.source_lang,
            "model": self.model,
            **options,
        }
        return text, merged

    def _translate(self, input_: TextInput, **kwargs: Any) -> str:
        with langchain_errors():
            text, options = self._args(input_, kwargs)
            return self._client.translate(text, options.pop("target_lang"), **options)

    async def _atranslate(self, input_: TextInput, **kwargs: Any) -> str:
        with langchain_errors():
            text, options = self._args(input_, kwargs)
            return await self._async_client.translate(text, options.pop("target_lang"), **options)

    def invoke(self, input: TextInput, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        """Translate a string, a ``PromptValue`` or ``{"text", "target_lang"?, ...}``."""
        return self._call_with_config(self._translate, input, config, **kwargs)

    async def ainvoke(
        self, input: TextInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> str:
        """Async twin of :meth:`invoke`."""
        return await self._acall_with_config(self._atranslate, input, config, **kwargs)


class WorkersAISummarizer(WorkersAIClientFields, RunnableSerializable[TextInput, str]):
    """Summarize text with Workers AI: a chat model asked for a summary (Workers AI retired
    its summarization model, bart-large-cnn, on 2026-05-30).

    Example:
        .. code-block:: python

            from langchain_workersai import WorkersAISummarizer

            WorkersAISummarizer(max_length=120).invoke(long_article)
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    max_length: int | None = None
    """Longest summary, in tokens (the model's default is 1024)."""
    model: str = SUMMARIZATION_MODEL

    def _args(self, input_: TextInput, kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        text, options = _text_and_options(input_, kwargs, _SUMMARIZE_KEYS)
        return text, {"max_length": self.max_length, "model": self.model, **options}

    def _summarize(self, input_: TextInput, **kwargs: Any) -> str:
        with langchain_errors():
            text, options = self._args(input_, kwargs)
            return self._client.summarize(text, **options)

    async def _asummarize(self, input_: TextInput, **kwargs: Any) -> str:
        with langchain_errors():
            text, options = self._args(input_, kwargs)
            return await self._async_client.summarize(text, **options)

    def invoke(self, input: TextInput, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        """Summarize a string, a ``PromptValue`` or ``{"text", "max_length"?}``."""
        return self._call_with_config(self._summarize, input, config, **kwargs)

    async def ainvoke(
        self, input: TextInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> str:
        """Async twin of :meth:`invoke`."""
        return await self._acall_with_config(self._asummarize, input, config, **kwargs)
