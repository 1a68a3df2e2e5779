"""The incremental SSE decoder (per reference §3.3: `data:` lines, blank-line separated,
partial lines buffered, `data:` with or without space, `p` padding inside the JSON)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from workersai._sse import ServerSentEvent, SSEDecoder


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


NATIVE_STREAM = (
    b'data: {"response":"Hello","p":"abcdefghijklmnopqrstuvw"}\n\n'
    b'data: {"response":"!","p":"abcdefghijklmnopqrstuvw"}\n\n'
    b'data: {"response":""}\n\n'
    b'data: {"response":"","usage":{"prompt_tokens":755,"completion_tokens":10,"total_tokens":765}}\n\n'
    b"data: [DONE]\n\n"
)


def test_native_stream_of_the_reference_decodes_to_five_events() -> None:
    events = decode([NATIVE_STREAM])
    assert [e.data for e in events][-1] == "[DONE]"
    assert json.loads(events[0].data) == {"response": "Hello", "p": "abcdefghijklmnopqrstuvw"}
    assert len(events) == 5


def test_data_without_space_comments_and_other_fields() -> None:
    body = b': keep-alive\nevent: delta\nid: 7\nretry: 3000\ndata:{"a":1}\n\n'
    [event] = decode([body])
    assert event == ServerSentEvent(data='{"a":1}', event="delta", id="7", retry=3000)


def test_multi_line_data_is_joined_with_newlines() -> None:
    [event] = decode([b"data: first\ndata:second\ndata:  third\n\n"])
    assert event.data == "first\nsecond\n third"


def test_crlf_and_bare_cr_line_endings() -> None:
    assert [e.data for e in decode([b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"])] == ["a", "b", "c"]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # "\r" ends chunk 1, "\n" starts chunk 2: that is one CRLF, not an extra blank line.
    events = decode([b"data: a\r", b"\ndata: b\r\n\r\n"])
    assert [e.data for e in events] == ["a\nb"]


def test_utf8_character_split_across_chunks() -> None:
    body = 'data: {"response":"héllo 🦙"}\n\n'.encode()
    split = body.index("🦙".encode()) + 2  # inside the 4-byte emoji
    [event] = decode([body[:split], body[split:]])
    assert json.loads(event.data)["response"] == "héllo 🦙"


def test_final_event_without_trailing_blank_line_is_still_delivered() -> None:
    assert [e.data for e in decode([b'data: {"x":1}\n\ndata: [DONE]'])] == ['{"x":1}', "[DONE]"]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert decode([b"\n\n\n: comment only\n\nevent: ping\n\n"]) == []


def test_unknown_fields_such_as_a_p_line_are_ignored() -> None:
    [event] = decode([b"p: padding-as-a-field\ndata: x\n\n"])
    assert event.data == "x"


# -- properties -------------------------------------------------------------------------

_text = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")
_payloads = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["response", "p", "usage"]),
            st.text(alphabet=_text, max_size=20),
            max_size=3,
        ).map(lambda d: json.dumps(d, ensure_ascii=False)),
        st.text(alphabet=_text, max_size=30),
    ),
    min_size=1,
    max_size=12,
)


def _stream(payloads: list[str], eol: str) -> bytes:
    return "".join(f"data: {p}{eol}{eol}" for p in payloads).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(payloads=_payloads, eol=st.sampled_from(["\n", "\r\n", "\r"]), data=st.data())
def test_any_split_of_a_valid_stream_gives_the_same_events(
    payloads: list[str], eol: str, data: st.DataObject
) -> None:
    body = _stream(payloads, eol)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=20)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert decode(chunks) == decode([body])
    # and byte-by-byte
    assert decode([body[i : i + 1] for i in range(len(body))]) == decode([body])


@settings(max_examples=300, deadline=None)
@given(payloads=_payloads)
def test_every_payload_comes_back_exactly(payloads: list[str]) -> None:
    events = decode([_stream(payloads, "\n")])
    assert [e.data for e in events] == payloads


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(blob: bytes) -> None:
    decode([blob[:7], blob[7:]])
