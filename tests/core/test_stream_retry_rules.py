"""Streams in the retry layer: one retry budget across failures to open a stream and failures
before its first event, an event dispatched only when the stream ends still counts as
delivered (so nothing is sent again), a stream that keeps breaking raises instead of ending
short, and answers to a stream request that are not an event stream — on the sync client and
on both async transports."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests._every_client import CLIENT_KINDS, ClientMaker
from workersai import APIConnectionError, CapacityExceededError, RetryPolicy, StreamError
from workersai.testing import Reply, WorkersAIServer, envelope

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "Hello"}]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.001, jitter=0.0)
CAPACITY = (429, 3040, "Capacity temporarily exceeded, please try again.")
EVENTS = [{"response": "Hello"}, {"response": "!"}]


@pytest.fixture(params=CLIENT_KINDS)
def make(request: pytest.FixtureRequest) -> Iterator[ClientMaker]:
    maker = ClientMaker(request.param)
    yield maker
    maker.close()


def test_open_failures_and_broken_bodies_share_one_retry_budget(
    make: ClientMaker, server: WorkersAIServer
) -> None:
    server.enqueue(
        Reply.sse(EVENTS, cut_after_chunks=0),  # headers, then cut before any event: retry 1
        Reply.error(*CAPACITY),  # retry 2
        Reply.error(*CAPACITY),  # max_retries=2 spent: raised
        Reply.sse(EVENTS),
    )
    client = make(server.base_url, retry_policy=FAST, max_retries=2)
    with pytest.raises(CapacityExceededError) as info:
        list(client.stream_chat(LLAMA, USER))
    assert info.value.retries_taken == 2
    assert len(server.requests) == 3 and server.pending == 1


def test_a_stream_that_keeps_breaking_before_any_event_raises_after_its_retries(
    make: ClientMaker, server: WorkersAIServer
) -> None:
    server.enqueue(*(Reply.sse(EVENTS, cut_after_chunks=0) for _ in range(3)), Reply.sse(EVENTS))
    client = make(server.base_url, retry_policy=FAST, max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        list(client.stream_chat(LLAMA, USER))
    assert info.value.retries_taken == 2
    assert len(server.requests) == 3 and server.pending == 1
    assert "after events were delivered" not in info.value.message


def test_a_stream_broken_after_its_first_event_counts_the_retries_it_took(
    make: ClientMaker, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.connection_reset(), Reply.sse(EVENTS, cut_after_chunks=1))
    client = make(server.base_url, retry_policy=FAST, max_retries=2)
    received = []
    with pytest.raises(APIConnectionError, match="after events were delivered") as info:
        for chunk in client.stream_chat(LLAMA, USER):
            received.append(chunk.text)
    assert received == ["Hello"]
    assert info.value.retries_taken == 1
    assert len(server.requests) == 2


def test_an_event_dispatched_only_at_the_end_of_the_stream_is_not_asked_for_again(
    make: ClientMaker, server: WorkersAIServer
) -> None:
    # the last event lacks its blank line: the decoder dispatches it when the body ends
    body = b'data: {"response": "Hi", "finish_reason": "stop"}'
    server.enqueue(Reply.raw_sse(body), Reply.raw_sse(body), Reply.raw_sse(body))
    client = make(server.base_url, retry_policy=FAST, max_retries=2)
    texts = []
    try:
        for chunk in client.stream_chat(LLAMA, USER):
            texts.append(chunk.text)
    except StreamError:  # the stream ended without [DONE]; what matters is what came before
        pass
    assert "".join(texts) == "Hi"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"content-type": "application/json"}],
    ids=["no-content-type", "json"],
)
def test_a_json_answer_to_a_stream_request_is_read_as_the_answer(
    make: ClientMaker, server: WorkersAIServer, headers: dict[str, str]
) -> None:
    body = json.dumps(envelope({"response": "Hi there", "usage": {"total_tokens": 4}})).encode()
    server.enqueue(Reply(200, headers, body))
    client = make(server.base_url, retry_policy=FAST)
    chunks = list(client.stream_chat(LLAMA, USER))
    assert "".join(c.text for c in chunks) == "Hi there"
    assert chunks[-1].is_final
    assert len(server.requests) == 1
