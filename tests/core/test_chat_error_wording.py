"""The words of chat's own errors, pinned: each tells the caller what to do.

Bad input is refused before any request with a message that names the fix (the endpoint to
use, the argument to drop, the accepted values), and a broken stream says whether retrying
helps. A reworded message is a user-visible change, so these compare the whole text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from workersai._chat import ChatStreamAssembler, build_chat_request
from workersai.errors import InvalidInputError, StreamError, StreamTruncatedError

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
EMBEDDER = "@cf/baai/bge-small-en-v1.5"
USER = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (
            lambda: build_chat_request(LLAMA, USER, endpoint="azure"),
            "endpoint",
            "endpoint must be 'native' or 'openai'",
        ),
        (
            lambda: build_chat_request(LLAMA, USER, prompt="Hi"),
            "prompt",
            "pass messages or prompt, not both",
        ),
        (lambda: build_chat_request(LLAMA), "messages", "pass messages or prompt"),
        (
            lambda: build_chat_request(LLAMA, prompt="Hi", endpoint="openai"),
            "endpoint",
            "lora, raw and prompt need the native endpoint (endpoint='native')",
        ),
        (
            lambda: build_chat_request(LLAMA, USER, response_format={"type": "xml"}),
            "response_format.type",
            "response_format.type must be 'json_object', 'json_schema' or 'text', got 'xml'",
        ),
        (
            lambda: build_chat_request(LLAMA, USER, response_format={"type": "json_schema"}),
            "response_format",
            "response_format json_schema needs a 'json_schema' object",
        ),
        (
            lambda: build_chat_request(LLAMA, USER, response_format=[1]),
            "response_format",
            "response_format must be a mapping such as {'type': 'json_object'}, got list",
        ),
    ],
)
def test_bad_chat_input_says_what_to_pass_instead(
    call: Callable[[], Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert (info.value.message, info.value.field, info.value.hint) == (message, field, None)


def test_a_model_of_another_task_names_a_chat_model_to_use() -> None:
    with pytest.raises(InvalidInputError) as info:
        build_chat_request(EMBEDDER, USER)
    assert (
        info.value.message == f"{EMBEDDER} is a Text Embeddings model, not a text-generation model"
    )
    assert info.value.hint == f"Chat with a Text Generation model such as {LLAMA}."


def test_an_unreadable_stream_event_says_the_stream_was_abandoned_and_to_retry() -> None:
    assembler = ChatStreamAssembler(build_chat_request(LLAMA, USER, stream=True))
    with pytest.raises(StreamError) as info:
        assembler.feed("{oops")
    assert info.value.message == "Workers AI sent an unreadable stream event: '{oops'"
    assert info.value.hint == "The stream was abandoned; retry the request."


def test_a_cut_stream_says_how_much_came_and_to_retry() -> None:
    assembler = ChatStreamAssembler(build_chat_request(LLAMA, USER, stream=True))
    assembler.feed('{"response": "Hel"}')
    with pytest.raises(StreamTruncatedError) as info:
        assembler.finish()
    assert info.value.message == (
        f"The stream from {LLAMA} ended without [DONE] or a finish reason after 3 characters."
    )
    assert info.value.hint == "The connection was cut mid-answer; retry the request."
    assert info.value.partial_text == "Hel"


def test_bad_input_for_a_model_outside_the_catalog_still_names_it() -> None:
    # the task schema checks it; the message says which model the request was for
    with pytest.raises(InvalidInputError) as info:
        build_chat_request("@cf/test/not-in-catalog", USER, params={"temperature": "hot"})
    assert info.value.message == (
        "Invalid input for @cf/test/not-in-catalog: temperature: Input should be a valid "
        "number (got 'hot')"
    )
    assert info.value.field == "temperature"
