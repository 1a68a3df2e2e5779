"""The SSE decoder's event-level rules beyond `data` (WHATWG `text/event-stream`, which the
decoder implements; per reference §3.3 Workers AI streams are blank-line separated `data:`
events): the default event type, how `event`/`id` state carries or resets between events, a
line end split between chunks, and a stream cut inside a UTF-8 character."""

from __future__ import annotations

from workersai._sse import ServerSentEvent, SSEDecoder


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def test_an_event_without_event_or_id_fields_is_a_message_without_id() -> None:
    [event] = decode([b"data: x\n\n"])
    assert event == ServerSentEvent(data="x", event="message", id=None, retry=None)


def test_the_event_type_applies_to_one_event_only() -> None:
    first, second = decode([b"event: delta\ndata: 1\n\ndata: 2\n\n"])
    assert (first.event, second.event) == ("delta", "message")


def test_a_block_without_data_resets_the_event_type() -> None:
    # "event: ping" then a blank line dispatches nothing and drops the type (WHATWG: the
    # event type buffer is cleared whenever a blank line dispatches, data or not).
    [event] = decode([b"event: ping\n\ndata: x\n\n"])
    assert event.event == "message"


def test_a_keep_alive_comment_block_before_the_first_event_changes_nothing() -> None:
    [event] = decode([b": keep-alive\n\ndata: x\n\n"])
    assert (event.data, event.event) == ("x", "message")


def test_the_last_event_id_carries_over_to_later_events() -> None:
    # WHATWG: the last event ID is not reset by dispatch; each event reports the latest one.
    events = decode([b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n"])
    assert [e.id for e in events] == ["7", "7", "8"]


def test_an_id_containing_nul_is_ignored() -> None:
    events = decode([b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"])
    assert [e.id for e in events] == ["1", "1"]


def test_a_carriage_return_at_a_chunk_end_swallows_only_the_next_line_feed() -> None:
    # "\r" ends chunk 1 and "\n" starts chunk 2: one CRLF. The lone "\n" of chunk 3 is then a
    # blank line of its own, so "a" is dispatched before "b" starts.
    events = decode([b"data: a\r", b"\n", b"\n", b"data: b\n", b"\n"])
    assert [e.data for e in events] == ["a", "b"]


def test_a_stream_cut_inside_a_utf8_character_ends_with_a_replacement_character() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: ab\xe2\x82") == []
    [event] = decoder.flush()
    assert event.data == "ab\ufffd"
