"""The envelope rule and the successful answers that are not an answer (wire reference §1.2,
§2.1, §10.1, §10.2): what is unwrapped, what raises, and what a portal page, an empty body or
an unasked-for event stream become."""

from __future__ import annotations

from typing import Any

import pytest

from workersai import errors
from workersai._envelope import (
    EventStreamBody,
    envelope_result,
    event_stream_body,
    is_envelope,
    unexpected_answer,
    unwrap_envelope,
)
from workersai._sse import ServerSentEvent

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
CHECK = "check base_url and any proxy or gateway in between."
PORTAL = (
    "Something other than Workers AI answered: a captive portal (hotel or office Wi-Fi: open "
    "any web page to log in), a corporate proxy, or a wrong base_url."
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"result": 1, "success": True}, True),
        ({"success": False, "errors": []}, True),
        ({"result": {"x": 1}, "messages": []}, True),  # stripped, with envelope-only keys
        ({"result": {"x": 1}, "result_info": {"page": 1}}, True),
        ({"result": {"x": 1}, "messages": [], "usage": {}}, False),  # a model's own keys
        ({"errors": [], "messages": []}, False),
        ({"messages": []}, False),
        ({}, False),
        ("result", False),
        (None, False),
    ],
)
def test_what_is_an_envelope(body: Any, expected: bool) -> None:
    assert is_envelope(body) is expected
    assert envelope_result(body) == (body.get("result") if expected else body)


def test_an_envelope_without_a_result_has_none() -> None:
    assert envelope_result({"success": False, "errors": []}) is None


def test_only_success_false_raises_and_with_what_the_response_said() -> None:
    failed = {"success": False, "errors": [{"code": 3040, "message": "busy"}], "result": None}
    with pytest.raises(errors.CapacityExceededError) as info:
        unwrap_envelope(failed, status_code=503, headers={"cf-ray": "abc-LHR"}, model=MODEL)
    err = info.value
    assert (err.status_code, err.request_id, err.model) == (503, "abc-LHR", MODEL)
    with pytest.raises(errors.UnexpectedResponseError) as unknown:  # a 2xx by default
        unwrap_envelope({"success": False, "errors": [{"code": 1, "message": "?"}]})
    assert (unknown.value.status_code, unknown.value.request_id) == (200, None)
    # anything else is unwrapped, never raised
    assert unwrap_envelope({"success": True, "result": {"x": 1}, "errors": []}) == {"x": 1}
    assert unwrap_envelope({"success": "false", "result": 2, "errors": []}) == 2
    assert unwrap_envelope({"success": None, "result": 3}) == 3
    assert unwrap_envelope([False]) == [False]
    assert unwrap_envelope(b"\x89PNG") == b"\x89PNG"


def test_an_event_stream_body_keeps_every_event_the_last_one_too() -> None:
    body = event_stream_body(b'data: {"response": "a"}\n\nevent: x\ndata: b\n\ndata: [DONE]')
    assert isinstance(body, EventStreamBody)
    assert [(e.event, e.data) for e in body.events] == [
        ("message", '{"response": "a"}'),
        ("x", "b"),
        ("message", "[DONE]"),
    ]
    assert all(isinstance(e, ServerSentEvent) for e in body.events)
    assert event_stream_body(b"").events == ()


# -- 2xx bodies that are not an answer -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "allowed"),
    [
        pytest.param(b"\x89PNG", "image/png", {"allow_binary": True}, id="binary, allowed"),
        pytest.param(bytearray(b"ID3"), "audio/mpeg", {"allow_binary": True}, id="bytearray"),
        pytest.param({"response": "hi"}, "application/json", {}, id="JSON object"),
        pytest.param([1, 2], "application/json", {}, id="JSON array"),
        pytest.param(None, "application/json", {}, id="JSON null"),
        pytest.param(42, "text/plain", {}, id="a number"),
        pytest.param("hi", "application/json", {}, id="a JSON string"),
        pytest.param("hi", "application/problem+json; charset=utf-8", {}, id="+json"),
        pytest.param("plain words", "text/plain", {"allow_text": True}, id="text, allowed"),
        pytest.param("plain words", "", {"allow_text": True}, id="no type, text allowed"),
    ],
)
def test_answers_are_not_unexpected(body: Any, content_type: str, allowed: dict[str, bool]) -> None:
    assert unexpected_answer(body, content_type, **allowed) is None


@pytest.mark.parametrize(
    ("body", "content_type", "options", "what", "hint"),
    [
        pytest.param(
            b"\x89PNG\r\n",
            "image/png",
            {},
            "6 bytes of image/png",
            f"This endpoint answers JSON: {CHECK}",
            id="binary",
        ),
        pytest.param(
            b"",
            "image/png",
            {"allow_binary": True},
            "an empty body (image/png)",
            f"This endpoint answers JSON: {CHECK}",
            id="no bytes",
        ),
        pytest.param(
            "  \n",
            "application/json",
            {"allow_text": True},
            "an empty body (application/json)",
            f"Nothing came back: retry, and {CHECK}",
            id="blank",
        ),
        pytest.param(
            "",
            "",
            {},
            "an empty body (no content type)",
            f"Nothing came back: retry, and {CHECK}",
            id="empty, no type",
        ),
        pytest.param(
            "<html><body><h1>Hotel Wi-Fi: log in</h1></body></html>",
            "Text/HTML; charset=utf-8",
            {"allow_text": True},
            "an HTML page (text/html): Hotel Wi-Fi: log in",
            PORTAL,
            id="portal page",
        ),
        pytest.param(
            "  <!doctype html><p>Sign in</p>",
            "text/plain",
            {"allow_text": True},
            "an HTML page (text/plain): Sign in",
            PORTAL,
            id="HTML sent as text",
        ),
        pytest.param(
            "Please log in to continue.",
            "text/html",
            {"allow_text": True},
            "an HTML page (text/html): Please log in to continue.",  # by its type alone
            PORTAL,
            id="HTML without a tag",
        ),
        pytest.param(
            "<p>cut",
            "application/json",
            {"invalid_json": True},
            "an HTML page (application/json): cut",
            PORTAL,
            id="HTML sent as JSON",
        ),
        pytest.param(
            'data: {"response": "a"}\n\n',
            "text/event-stream",
            {"allow_text": True},
            "an event stream (text/event-stream) to a request that did not ask for one",
            f"A proxy or gateway forced streaming: use client.stream(...), or {CHECK}",
            id="event stream",
        ),
        pytest.param(
            '{"result": {"resp',
            "application/json",
            {"invalid_json": True},
            'a body that is not valid JSON (application/json): {"result": {"resp',
            f"The answer was cut or rewritten on its way: retry, and {CHECK}",
            id="cut JSON",
        ),
        pytest.param(
            "OK",
            "text/plain",
            {},
            "text/plain: OK",
            f"This endpoint answers JSON: {CHECK}",
            id="text",
        ),
        pytest.param(
            "OK",
            "Text/Plain; charset=utf-8; format=flowed",
            {},
            "text/plain: OK",  # the media type alone, whatever parameters follow
            f"This endpoint answers JSON: {CHECK}",
            id="text with parameters",
        ),
        pytest.param(
            "OK",
            "",
            {},
            "no content type: OK",
            f"This endpoint answers JSON: {CHECK}",
            id="text, no type",
        ),
    ],
)
def test_bodies_that_are_not_an_answer_say_what_came_and_what_to_do(
    body: Any, content_type: str, options: dict[str, bool], what: str, hint: str
) -> None:
    err = unexpected_answer(body, content_type, **options)
    assert isinstance(err, errors.UnexpectedResponseError)
    assert err.message == f"Workers AI returned HTTP 200 with {what}, not a JSON answer"
    assert err.hint == hint  # whole: it says what to do
    assert err.body == (body if isinstance(body, str) else None)
    assert (err.status_code, err.request_id, err.model) == (200, None, None)


def test_the_error_names_the_status_model_and_request_id() -> None:
    err = unexpected_answer(
        "OK", "text/plain", status=203, headers={"cf-ray": "abc-LHR"}, model=MODEL
    )
    assert err is not None
    assert (
        err.message
        == f"Workers AI returned HTTP 203 for {MODEL} with text/plain: OK, not a JSON answer"
    )
    assert (err.status_code, err.request_id, err.model, err.body) == (203, "abc-LHR", MODEL, "OK")


def test_a_long_body_is_cut_to_a_readable_excerpt() -> None:
    err = unexpected_answer("<p>" + "word " * 100 + "</p>", "text/html")
    assert err is not None
    excerpt = ("word " * 100).strip()
    assert f"(text/html): {excerpt[:120]}…, not a JSON answer" in err.message
    short = unexpected_answer("x" * 120, "text/plain")
    assert short is not None and short.message.endswith(": " + "x" * 120 + ", not a JSON answer")
    # every kind of body is cut at the same 120 characters
    text = unexpected_answer("y" * 121, "text/plain")
    assert text is not None and text.message.endswith(": " + "y" * 120 + "…, not a JSON answer")
    cut = unexpected_answer('{"a": "' + "z" * 130, "application/json", invalid_json=True)
    assert cut is not None
    assert cut.message.endswith(': {"a": "' + "z" * 113 + "…, not a JSON answer")
