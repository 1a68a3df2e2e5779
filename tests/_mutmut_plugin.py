"""A pytest plugin for mutation-testing runs only (``bash scripts/mutation.sh``; loaded by
``[tool.mutmut] pytest_add_cli_args``): keeps mutmut's call tracking per thread.

mutmut 3.8 records which function calls which in a ``ContextVar``, set and reset around every
call of a mutated function. A generator or coroutine of the core that the garbage collector
closes later resets its own token inside whatever call is running then, so the running call's
reset fails (``LookupError``) and the stats run stops — on some runs, depending on when the
collector runs — and the ``ContextVar`` calls have segfaulted under the same interleaving. A
plain per-thread value has no tokens to invalidate; the price is only that async tasks
interleaved on one thread may credit a call to the wrong caller, which mutmut uses for its
dependency warnings, never for a verdict.
"""

from __future__ import annotations

import threading

from mutmut.core import MutmutCallStack

CallContext = tuple[str | None, int]


class _PerThreadCallContext:
    """``get``/``set``/``reset`` as on a ``ContextVar``; ``set`` returns the old value as token."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self) -> CallContext:
        value: CallContext = getattr(self._local, "value", (None, 0))
        return value

    def set(self, value: CallContext) -> CallContext:
        old = self.get()
        self._local.value = value
        return old

    def reset(self, token: CallContext) -> None:
        self._local.value = token


MutmutCallStack._ctx = _PerThreadCallContext()  # type: ignore[assignment]
