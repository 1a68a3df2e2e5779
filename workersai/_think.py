"""Reasoning that a model writes inline, between ``<think>`` tags, moved out of the answer.

DeepSeek-R1-Distill-Qwen-32B and QwQ-32B answer with their reasoning inline in the text: their
chat templates pre-fill the opening ``<think>``, so the answer is ``"Okay, the user asks …\\n
</think>\\n\\nParis."`` — reasoning, then only the closing tag, then the answer
(cloudflare/workers-ai-provider#16; wire reference §10.10). Some answers carry both
tags.

The rule, the same for whole answers (:func:`split_inline_think`) and streams
(:class:`InlineThinkFilter`):

* text that starts with ``<think>`` (any model): the reasoning is what lies inside the tags,
  the answer what follows ``</think>``, its leading blank lines removed; with no ``</think>``
  the whole text is reasoning (the model never left it);
* for the models of :data:`PREFILLED_THINK_MODELS`, the same split without the opening tag;
  with no ``</think>`` at all, the text is reasoning only when the answer was cut by
  ``max_tokens`` — a complete answer without the tag is left as text, so no answer is lost
  if Cloudflare ever strips the reasoning server-side;
* any other model's text is left unchanged, stray ``</think>`` included;
* the caller skips all of it when the answer already carries its reasoning in a field of its
  own (``reasoning_content``): the server split it.
"""

from __future__ import annotations

import re
from typing import Literal

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

#: Models whose chat template pre-fills the opening ``<think>``, so that their answers carry
#: only the closing tag. An explicit set rather than the catalog's ``reasoning`` property:
#: that property also marks models the server splits (gpt-oss, Qwen3, GLM, Kimi, Gemma 4
#: answer with ``reasoning_content``), which may answer without ``</think>`` at all when
#: thinking is off — their answers must not become reasoning; and it misses QwQ-32B.
PREFILLED_THINK_MODELS = frozenset(
    {
        "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
        "@cf/qwen/qwq-32b",
    }
)

# Whole lines of blanks at the start of the answer (indentation of its first line is kept).
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t\r]*\n)+")


def prefills_think(model: str | None) -> bool:
    """Whether ``model``'s answers start inside its reasoning (see the module docstring)."""
    return model in PREFILLED_THINK_MODELS


def _strip_blank_lines(text: str) -> str:
    match = _LEADING_BLANK_LINES.match(text)
    return text[match.end() :] if match else text


def split_inline_think(text: str, *, prefilled: bool, cut: bool) -> tuple[str, str | None]:
    """``(answer, reasoning or None)`` of a whole answer's text.

    >>> split_inline_think("Okay, the user asks.\\n</think>\\n\\nParis.", prefilled=True, cut=False)
    ('Paris.', 'Okay, the user asks.')
    >>> split_inline_think("<think>Easy.</think>Paris.", prefilled=False, cut=False)
    ('Paris.', 'Easy.')
    >>> split_inline_think("Use </think> to close.", prefilled=False, cut=False)
    ('Use </think> to close.', None)
    """
    lead = text.lstrip()
    if lead.startswith(OPEN_TAG):
        body, opened = lead[len(OPEN_TAG) :], True
    elif prefilled:
        body, opened = text, False
    else:
        return text, None
    end = body.find(CLOSE_TAG)
    if end >= 0:
        return _strip_blank_lines(body[end + len(CLOSE_TAG) :]), body[:end].strip() or None
    if opened or cut:
        return "", body.strip() or None
    return text, None


def _partial_tag(text: str) -> int:
    """Length of the longest end of ``text`` that may begin a ``</think>`` split across
    deltas (``"…</thi"`` then ``"nk>"``)."""
    for size in range(len(CLOSE_TAG) - 1, 0, -1):
        if text.endswith(CLOSE_TAG[:size]):
            return size
    return 0


class InlineThinkFilter:
    """The rule of :func:`split_inline_think` applied to a stream's text deltas.

    :meth:`feed` turns each text delta into ``(text, reasoning)`` deltas; a tag is never
    emitted, even split across deltas, because what may be the start of one is held back
    (as are blanks that may turn out to precede a tag). :meth:`end` flushes what is held.
    The deltas joined equal :func:`split_inline_think` of the whole text, except in the case
    :meth:`end` reports, where the text was streamed as reasoning and turns out to be the
    answer.

    >>> f = InlineThinkFilter(prefilled=True)
    >>> [f.feed(d) for d in ["Okay.\\n</thi", "nk>\\n\\nPar", "is."]]
    [('', 'Okay.'), ('Par', ''), ('is.', '')]
    """

    def __init__(self, *, prefilled: bool) -> None:
        self._prefilled = prefilled
        self._state: Literal["start", "think", "answer", "pass"] = "start"
        self._pending = ""  # held back: blanks, or what may become a tag
        self._opened = False  # the text opened its reasoning with <think>
        self._reasoning_started = False
        self._answer_started = False
        self._raw: list[str] = []  # the unchanged text, while it may have to be given back

    def pass_through(self) -> None:
        """The answer carries its reasoning in a field of its own: text stays text. Only
        before any text was read — after that, the text's own tags decide."""
        if self._state == "start" and not self._pending:
            self._state = "pass"

    def feed(self, delta: str) -> tuple[str, str]:
        """One text delta → ``(text, reasoning)`` to emit now."""
        if self._state == "pass":
            return delta, ""
        if self._state == "start":
            self._raw.append(delta)
            self._pending += delta
            lead = self._pending.lstrip()
            if not lead or (OPEN_TAG.startswith(lead) and lead != OPEN_TAG):
                return "", ""  # blanks, or the opening tag may be coming
            buffered, self._pending = self._pending, ""
            if lead.startswith(OPEN_TAG):
                self._state, self._opened = "think", True
                return self._think(lead[len(OPEN_TAG) :])
            if self._prefilled:
                self._state = "think"
                return self._think(buffered)
            self._state, self._raw = "pass", []
            return buffered, ""
        if self._state == "think":
            if not self._opened:
                self._raw.append(delta)
            return self._think(delta)
        return self._answer(delta), ""

    def _think(self, delta: str) -> tuple[str, str]:
        text = self._pending + delta
        end = text.find(CLOSE_TAG)
        if end >= 0:
            self._state, self._pending, self._raw = "answer", "", []
            reasoning = self._reasoning(text[:end].rstrip())
            return self._answer(text[end + len(CLOSE_TAG) :]), reasoning
        head = text[: len(text) - _partial_tag(text)]
        # Blanks before a possible tag are held too: the reasoning ends with no blank.
        emitted = head.rstrip()
        self._pending = text[len(emitted) :]
        return "", self._reasoning(emitted)

    def _reasoning(self, text: str) -> str:
        if not self._reasoning_started:
            text = text.lstrip()
            self._reasoning_started = bool(text)
        return text

    def _answer(self, delta: str) -> str:
        if self._answer_started:
            return delta
        text = self._pending + delta
        if not text.strip():
            self._pending = text
            return ""
        self._pending, self._answer_started = "", True
        return _strip_blank_lines(text)

    def end(self, *, cut: bool) -> tuple[str, str, str | None]:
        """At the end of the stream: ``(text, reasoning, restored)`` — the held-back deltas,
        and, when a pre-filled model's complete answer never closed its reasoning (no
        ``</think>``, not cut by ``max_tokens``), the whole unchanged text as ``restored``:
        the reasoning streamed so far was the answer (see :func:`split_inline_think`)."""
        pending, self._pending = self._pending, ""
        if self._state == "start":
            if not self._prefilled:
                self._state = "pass"
                return pending, "", None
            self._state = "think"
        if self._state == "think":
            self._state = "pass"
            if self._prefilled and not self._opened and not cut:
                restored = "".join(self._raw)
                self._raw = []
                return "", "", restored
            return "", self._reasoning(pending.rstrip()), None
        if self._state == "answer":
            self._state = "pass"
            return _strip_blank_lines(pending), "", None
        return "", "", None
