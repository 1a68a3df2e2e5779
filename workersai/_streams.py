"""Chat streams: what the clients hand out (:class:`ChatStream`, :class:`AsyncChatStream`) and
the state that turns a stream request's transport items into :class:`ChatChunk`s.

A stream request can be answered three ways, and :class:`ChatStreamState` reads all three the
same for the sync and the async client:

* SSE, native or OpenAI-shaped events (wire reference §3.3, §4): fed to a
  :class:`~workersai._chat.ChatStreamAssembler`; the last chunk is final, with usage;
* a JSON answer (gpt-oss on ``/ai/run``, §3.3): replayed as a stream — unless it is empty,
  then the client asks again unstreamed (:func:`unstreamed`) and replays that; a body that is
  not JSON at all (an HTML portal page, plain text, nothing) is an
  :class:`~workersai.errors.UnexpectedResponseError` (§10.2), never the answer's text;
* JSON mode, which cannot stream (§3.2.4): sent unstreamed and replayed.

Usage is recorded once per stream, for the answer the caller gets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

from workersai import _json
from workersai._chat import (
    ChatRequest,
    ChatStreamAssembler,
    chunks_from_result,
    parse_chat_response,
)
from workersai._config import gateway_info
from workersai._envelope import unexpected_answer, unwrap_envelope
from workersai._sse import ServerSentEvent
from workersai._transport import JSONAnswer, PreparedRequest, StreamOpened
from workersai.errors import WorkersAIError
from workersai.results import ChatChunk, ChatResult
from workersai.usage import record_request

__all__ = ["AsyncChatStream", "ChatStream", "ChatStreamState", "unstreamed"]

logger = logging.getLogger(__name__)


class ChatStreamState:
    """One stream's progress: the assembler of its events, or the complete answer it was
    replayed from; :meth:`result` is the answer so far."""

    def __init__(self, chat: ChatRequest) -> None:
        self.chat = chat
        self.assembler: ChatStreamAssembler | None = None
        self.complete: ChatResult | None = None

    def result(self) -> ChatResult:
        if self.complete is not None:
            return self.complete
        if self.assembler is not None:
            return self.assembler.result()
        raise WorkersAIError("The stream has not produced anything yet.")

    def restart(self, chat: ChatRequest) -> None:
        """Point a stream that delivered nothing yet at another request (the next model of
        a fallback chain)."""
        self.chat = chat
        self.assembler = None
        self.complete = None

    def feed(
        self, item: ServerSentEvent | StreamOpened | JSONAnswer
    ) -> list[ChatChunk] | ChatChunk | None:
        """One transport item → a content chunk, nothing, or (for a JSON answer) the whole
        answer replayed as chunks; then see :meth:`json_answer_used`."""
        if isinstance(item, StreamOpened):
            self.assembler = ChatStreamAssembler(self.chat, gateway=gateway_info(item.headers))
            return None
        if isinstance(item, JSONAnswer):
            body = item.body
            problem = unexpected_answer(
                body,
                item.headers.get("content-type", ""),
                headers=item.headers,
                model=self.chat.model,
            )
            if problem is not None:
                raise problem
            unwrap_envelope(body, headers=item.headers, model=self.chat.model)  # success: false
            # Not recorded yet: an empty answer is replaced by the unstreamed fallback, and
            # only the answer the caller gets counts (see json_answer_used).
            self.complete = parse_chat_response(body, self.chat, gateway=gateway_info(item.headers))
            return chunks_from_result(self.complete)
        assert self.assembler is not None
        return self.assembler.feed(item.data)

    def json_answer_used(self) -> bool:
        """After a stream request was answered with JSON: ``True`` if that answer is the
        result (recorded now), ``False`` if it is empty and must be asked again unstreamed
        (gpt-oss on /ai/run, wire reference §3.3) — the fallback records its own answer."""
        assert self.complete is not None
        result = self.complete
        if not (result.text or result.tool_calls or result.invalid_tool_calls or result.reasoning):
            return False
        record_request(self.chat.model, result.usage)
        return True

    def replay(self, result: ChatResult) -> list[ChatChunk]:
        """A complete (already recorded) answer as the stream's chunks."""
        self.complete = result
        return chunks_from_result(result)

    def tail(self) -> list[ChatChunk]:
        """The end of an SSE stream: text held back while a tool was forced (or the tool
        calls salvaged from it), then the final chunk — usage recorded once, here."""
        if self.assembler is None:
            self.assembler = ChatStreamAssembler(self.chat)
        chunks = []
        held = self.assembler.release()
        if held is not None:
            chunks.append(held)
        final = self.assembler.finish()
        record_request(self.chat.model, final.usage)
        chunks.append(final)
        return chunks


def unstreamed(chat: ChatRequest, prepared: PreparedRequest) -> PreparedRequest:
    """The same chat request without streaming.

    gpt-oss on /ai/run answers ``stream: true`` with an empty JSON result (wire reference
    §3.3): the client asks again unstreamed and replays that answer as a stream.
    """
    logger.info("%s answered a stream request with JSON; asking again unstreamed", chat.model)
    body = {k: v for k, v in chat.body.items() if k not in ("stream", "stream_options")}
    return PreparedRequest(
        method=prepared.method,
        url=prepared.url,
        headers={**prepared.headers, "Accept": "application/json"},
        content=_json.dumps(body),
        params=prepared.params,
        timeout=prepared.timeout,
        max_retries=prepared.max_retries,
        model=prepared.model,
        label=prepared.label,
    )


class ChatStream:
    """Iterator of :class:`ChatChunk` for one streamed answer; the last chunk has
    ``is_final=True`` with usage and finish reason. Close it (or use ``with``) to stop early.

    Example:
        >>> with client.stream_chat(model, messages) as stream:
        ...     for chunk in stream:
        ...         print(chunk.text, end="")
        ...     print(stream.result().usage)
    """

    def __init__(self, chunks: Iterator[ChatChunk], state: ChatStreamState) -> None:
        self._chunks = chunks
        self._state = state

    def __iter__(self) -> Iterator[ChatChunk]:
        return self._chunks

    def __next__(self) -> ChatChunk:
        return next(self._chunks)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def result(self) -> ChatResult:
        """The assembled answer; consumes whatever was not iterated yet."""
        for _ in self._chunks:
            pass
        return self._state.result()


class AsyncChatStream:
    """Async twin of :class:`ChatStream`."""

    def __init__(self, chunks: AsyncIterator[ChatChunk], state: ChatStreamState) -> None:
        self._chunks = chunks
        self._state = state

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._chunks

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    async def result(self) -> ChatResult:
        """The assembled answer; consumes whatever was not iterated yet."""
        async for _ in self._chunks:
            pass
        return self._state.result()
