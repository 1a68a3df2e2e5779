"""Model fallback (issue 15) against a scripted loopback server: which failures move a chat
request to the next model (3040 after its retries, 5035, 5028, 7003 on the model only), which
never do (bad input), streams that fall back only before their first chunk, the answering
model on the result, and usage recorded for the answering request only.

The error shapes are the documented ones: the v4 error envelope (wire reference §2.1), 3040
"Capacity temporarily exceeded" as a 429 (§2.2), 7003 "Could not route" as a 404 with 7000
(§2.3), 5028 and 5035 from the quirks research (Task 2/3).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from workersai import (
    AsyncWorkersAI,
    CapacityExceededError,
    ChatResult,
    InvalidInputError,
    RetryPolicy,
    RouteNotFoundError,
    WorkersAI,
    WorkersAIError,
)
from workersai._envelope import error_from_response
from workersai._fallback import fallback_reason, needs_account_check
from workersai.testing import Reply, WorkersAIServer, envelope
from workersai.usage import track_usage

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
FAST = "@cf/meta/llama-3.1-8b-instruct-fast"
GEMMA = "@cf/google/gemma-4-26b-a4b-it"  # temperature at most 2 in its schema
USER = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}

CAPACITY = (429, 3040, "Capacity temporarily exceeded, please try again.")
PAID_ONLY = (403, 5035, "This model requires the Workers Paid plan.")
RETIRED = (
    400,
    5028,
    "AiError: 5028: This model was deprecated on 2026-05-30. Please use an alternative model",
)
BAD_INPUT = (400, 5006, "AiError: Bad input: Error: Type mismatch of '/messages/0/content'")
ROUTE = [
    {
        "code": 7003,
        "message": "Could not route to /client/v4/accounts/x/ai/run/m, perhaps your object identifier is invalid?",
    },
    {"code": 7000, "message": "No route for that URI"},
]


def _route_error() -> Reply:
    return Reply.json(envelope(None, errors=ROUTE), 404)


def _answer(text: str = "hello") -> Reply:
    return Reply.result({"response": text, "usage": USAGE})


def _models_page() -> Reply:
    body = envelope([{"id": "1", "name": LLAMA, "task": {"name": "Text Generation"}}])
    body["result_info"] = {"page": 1, "per_page": 1, "count": 1, "total_count": 1}
    return Reply.json(body)


def _client(flavour: str, server: WorkersAIServer, **kwargs: Any) -> WorkersAI | AsyncWorkersAI:
    kwargs.setdefault("max_retries", 0)
    cls = WorkersAI if flavour == "sync" else AsyncWorkersAI
    return cls("acct", "tok", base_url=server.base_url, **kwargs)


async def _chat(client: WorkersAI | AsyncWorkersAI, *args: Any, **kwargs: Any) -> ChatResult:
    if isinstance(client, AsyncWorkersAI):
        return await client.chat(*args, **kwargs)
    return client.chat(*args, **kwargs)


async def _stream(
    client: WorkersAI | AsyncWorkersAI, *args: Any, **kwargs: Any
) -> tuple[list[str], ChatResult]:
    texts = []
    if isinstance(client, AsyncWorkersAI):
        stream = await client.stream_chat(*args, **kwargs)
        async for chunk in stream:
            texts.append(chunk.text)
        return texts, await stream.result()
    sync_stream = client.stream_chat(*args, **kwargs)
    for chunk in sync_stream:
        texts.append(chunk.text)
    return texts, sync_stream.result()


def _models(server: WorkersAIServer) -> list[str | None]:
    return [
        r.model if r.model else f"{r.method} {r.path.rsplit('/ai/', 1)[-1]}"
        for r in server.requests
    ]


FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "async"])


# -- what moves on -----------------------------------------------------------------------


@FLAVOURS
@pytest.mark.parametrize("fault", [CAPACITY, PAID_ONLY, RETIRED], ids=["3040", "5035", "5028"])
async def test_the_next_model_answers_when_the_model_cannot(
    server: WorkersAIServer,
    flavour: str,
    fault: tuple[int, int, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.enqueue(Reply.error(*fault), _answer("from qwen"))
    client = _client(flavour, server, fallback_models=[QWEN])
    with caplog.at_level(logging.WARNING, logger="workersai._fallback"), track_usage() as usage:
        result = await _chat(client, LLAMA, USER, temperature=0.2)
    assert (result.text, result.model) == ("from qwen", QWEN)
    assert _models(server) == [LLAMA, QWEN]
    # the same request, built for the next model
    assert (
        server.requests[1].json()
        == server.requests[0].json()
        == {"messages": USER, "temperature": 0.2}
    )
    # only the answering request is recorded, for the model that answered
    assert [(model, u.requests, u.total_tokens) for model, u in usage] == [(QWEN, 1, 15)]
    [line] = [r.getMessage() for r in caplog.records]
    assert (
        line.startswith(f"{LLAMA} is ")
        and f"({fault[1]}" in line
        and line.endswith(f"asking {QWEN} instead")
    )


@FLAVOURS
async def test_capacity_falls_back_only_after_the_models_own_retries(
    server: WorkersAIServer, flavour: str, fast_retries: RetryPolicy
) -> None:
    server.enqueue(
        Reply.error(*CAPACITY), Reply.error(*CAPACITY), Reply.error(*CAPACITY), _answer()
    )
    client = _client(
        flavour, server, max_retries=2, retry_policy=fast_retries, fallback_models=[QWEN]
    )
    result = await _chat(client, LLAMA, USER)
    assert result.model == QWEN
    assert _models(server) == [LLAMA, LLAMA, LLAMA, QWEN]


@FLAVOURS
@pytest.mark.parametrize(
    "reply",
    [
        Reply.error(*BAD_INPUT),
        Reply.error(400, None, "Bad request"),
        Reply.error(401, 10000, "Authentication error"),
        Reply.error(429, None, "Rate limited."),
        Reply.html(502),
    ],
    ids=["5006", "400", "401", "429-not-capacity", "502"],
)
async def test_other_failures_never_fall_back(
    server: WorkersAIServer, flavour: str, reply: Reply
) -> None:
    server.enqueue(reply)
    client = _client(flavour, server, fallback_models=[QWEN])
    with pytest.raises(WorkersAIError):
        await _chat(client, LLAMA, USER)
    assert _models(server) == [LLAMA]


@FLAVOURS
async def test_a_retired_models_410_falls_back(server: WorkersAIServer, flavour: str) -> None:
    server.enqueue(Reply.error(410, None, "Gone"), _answer("from qwen"))
    client = _client(flavour, server, fallback_models=[QWEN])
    assert (await _chat(client, LLAMA, USER)).model == QWEN


def test_a_deprecation_answer_without_a_code_falls_back_but_a_5006_mentioning_it_does_not() -> None:
    retired = error_from_response(
        400,
        {
            "errors": [
                {"message": "Model has been deprecated: This model was deprecated on 2026-05-30."}
            ]
        },
    )
    assert fallback_reason(retired) == "is deprecated or retired (5028)"
    bad = error_from_response(
        400, {"errors": [{"code": 5006, "message": "AiError: Bad input: was deprecated on"}]}
    )
    assert fallback_reason(bad) is None
    assert fallback_reason(InvalidInputError("x")) is None
    route = error_from_response(404, envelope(None, errors=ROUTE))
    assert fallback_reason(route) and needs_account_check(route)


@FLAVOURS
async def test_every_model_failing_raises_the_last_error_saying_what_each_did(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(Reply.error(*CAPACITY), Reply.error(*PAID_ONLY), Reply.error(*CAPACITY))
    client = _client(flavour, server, fallback_models=[QWEN, FAST])
    with pytest.raises(CapacityExceededError) as info:
        await _chat(client, LLAMA, USER)
    assert info.value.model == FAST
    hint = info.value.hint or ""
    assert hint.startswith("No model of the fallback chain could answer:")
    assert f"{LLAMA} is out of capacity (3040); {QWEN} is not available" in hint
    assert _models(server) == [LLAMA, QWEN, FAST]


@FLAVOURS
async def test_each_model_gets_its_own_request_and_one_that_cannot_take_it_is_skipped(
    server: WorkersAIServer, flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    # temperature 3 is fine for Llama (0-5) but over Gemma 4's limit (0-2): Gemma is skipped
    server.enqueue(Reply.error(*CAPACITY), _answer())
    client = _client(flavour, server, fallback_models=[GEMMA, FAST])
    with caplog.at_level(logging.WARNING, logger="workersai._fallback"):
        result = await _chat(client, LLAMA, USER, temperature=3)
    assert result.model == FAST
    assert _models(server) == [LLAMA, FAST]
    assert any(f"Skipping fallback model {GEMMA}" in r.getMessage() for r in caplog.records)


@FLAVOURS
async def test_the_first_models_bad_input_is_raised_before_any_request(
    server: WorkersAIServer, flavour: str
) -> None:
    client = _client(flavour, server, fallback_models=[QWEN])
    with pytest.raises(InvalidInputError):
        await _chat(client, GEMMA, USER, temperature=3)
    assert server.requests == []


def test_a_misspelt_fallback_model_fails_when_the_client_is_made() -> None:
    with pytest.raises(InvalidInputError) as info:
        WorkersAI("acct", "tok", fallback_models=["llama-3.3-70b-instruct-fp8-fst"])
    assert LLAMA in (info.value.hint or "")
    with pytest.raises(InvalidInputError, match="list of model ids"):
        WorkersAI("acct", "tok", fallback_models=QWEN)  # type: ignore[arg-type]


@FLAVOURS
async def test_a_calls_own_fallback_models_replace_the_clients(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(Reply.error(*CAPACITY), _answer(), Reply.error(*CAPACITY))
    client = _client(flavour, server, fallback_models=[QWEN])
    assert (await _chat(client, LLAMA, USER, fallback_models=[FAST])).model == FAST
    with pytest.raises(CapacityExceededError):
        await _chat(client, LLAMA, USER, fallback_models=[])
    assert _models(server) == [LLAMA, FAST, LLAMA]


# -- 7003: the model's fault, or the account's? ----------------------------------------------


@FLAVOURS
async def test_7003_falls_back_once_the_account_is_proven_to_route(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(_route_error(), _models_page(), _answer(), _route_error(), _answer())
    client = _client(flavour, server, fallback_models=[QWEN])
    assert (await _chat(client, LLAMA, USER)).model == QWEN
    assert _models(server) == [LLAMA, "GET models/search", QWEN]
    assert server.requests[1].query == {"per_page": "1"}
    # proven once: the next 7003 falls back without asking again
    assert (await _chat(client, LLAMA, USER)).model == QWEN
    assert _models(server)[3:] == [LLAMA, QWEN]


@FLAVOURS
async def test_7003_after_an_earlier_answer_falls_back_without_a_check(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(_answer(), _route_error(), _answer("from qwen"))
    client = _client(flavour, server, fallback_models=[QWEN])
    await _chat(client, QWEN, USER)
    assert (await _chat(client, LLAMA, USER)).text == "from qwen"
    assert _models(server) == [QWEN, LLAMA, QWEN]


@FLAVOURS
async def test_7003_from_a_wrong_account_raises_the_first_error_without_walking_the_chain(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(_route_error(), _route_error())
    client = _client(flavour, server, fallback_models=[QWEN, FAST])
    with pytest.raises(RouteNotFoundError) as info:
        await _chat(client, LLAMA, USER)
    assert info.value.model == LLAMA
    assert "the account id is wrong, not the model" in (info.value.hint or "")
    assert _models(server) == [LLAMA, "GET models/search"]


# -- streams -----------------------------------------------------------------------------


def _sse(*texts: str) -> Reply:
    return Reply.sse(
        [*({"response": t, "p": "abc"} for t in texts), {"response": "", "usage": USAGE}]
    )


@FLAVOURS
@pytest.mark.parametrize("fault", [CAPACITY, PAID_ONLY], ids=["3040", "5035"])
async def test_a_stream_falls_back_before_its_first_chunk(
    server: WorkersAIServer, flavour: str, fault: tuple[int, int, str]
) -> None:
    server.enqueue(Reply.error(*fault), _sse("Hel", "lo"))
    client = _client(flavour, server, fallback_models=[QWEN])
    with track_usage() as usage:
        texts, result = await _stream(client, LLAMA, USER)
    assert "".join(texts) == "Hello"
    assert (result.model, result.text) == (QWEN, "Hello")
    assert _models(server) == [LLAMA, QWEN]
    assert server.requests[1].json() == {"messages": USER, "stream": True}
    assert [(model, u.requests) for model, u in usage] == [(QWEN, 1)]


@FLAVOURS
async def test_a_stream_never_falls_back_after_its_first_chunk(
    server: WorkersAIServer, flavour: str
) -> None:
    # the capacity error arrives as an event after "Hel" was delivered: the caller has part
    # of an answer, so it is raised instead of starting over on another model
    error_event = {
        "errors": [{"code": 3040, "message": "Capacity temporarily exceeded"}],
        "success": False,
    }
    server.enqueue(Reply.sse([{"response": "Hel"}, error_event]), _sse("other"))
    client = _client(flavour, server, fallback_models=[QWEN])
    with pytest.raises(CapacityExceededError):
        await _stream(client, LLAMA, USER)
    assert _models(server) == [LLAMA]


@FLAVOURS
async def test_a_stream_checks_the_account_on_7003_too(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(_route_error(), _route_error())
    client = _client(flavour, server, fallback_models=[QWEN])
    with pytest.raises(RouteNotFoundError):
        await _stream(client, LLAMA, USER)
    assert _models(server) == [LLAMA, "GET models/search"]


@FLAVOURS
async def test_a_stream_with_no_model_left_raises_the_last_error(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(Reply.error(*CAPACITY), Reply.error(*CAPACITY))
    client = _client(flavour, server, fallback_models=[QWEN])
    with pytest.raises(CapacityExceededError) as info:
        await _stream(client, LLAMA, USER)
    assert info.value.model == QWEN and "No model of the fallback chain" in (info.value.hint or "")


@FLAVOURS
async def test_without_fallback_models_nothing_changes(
    server: WorkersAIServer, flavour: str
) -> None:
    server.enqueue(Reply.error(*CAPACITY), Reply.error(*CAPACITY))
    client = _client(flavour, server)
    with pytest.raises(CapacityExceededError) as info:
        await _chat(client, LLAMA, USER)
    assert "fallback" not in (info.value.hint or "")
    with pytest.raises(CapacityExceededError):
        await _stream(client, LLAMA, USER)
    assert _models(server) == [LLAMA, LLAMA]


def test_a_json_mode_stream_falls_back_too(server: WorkersAIServer) -> None:
    # JSON mode is sent unstreamed and replayed (§3.2.4): the fallback happens the same way
    server.enqueue(Reply.error(*CAPACITY), Reply.result({"response": {"a": 1}, "usage": USAGE}))
    client = WorkersAI(
        "acct", "tok", base_url=server.base_url, max_retries=0, fallback_models=[QWEN]
    )
    stream = client.stream_chat(LLAMA, USER, response_format={"type": "json_object"})
    result = stream.result()
    assert (result.model, result.parsed) == (QWEN, {"a": 1})
