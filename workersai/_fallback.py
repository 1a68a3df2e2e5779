"""Model fallback: when a model cannot answer, the same request goes to the next model.

``WorkersAI(fallback_models=[...])`` (or ``fallback_models=`` on one ``chat``/``stream_chat``
call) gives a chat request a chain of models. A model's failure moves the request on only when
the *model* cannot answer now or for this account — after the transport's own retries:

* 3040, out of capacity (:class:`~workersai.errors.CapacityExceededError`);
* 5035, the model needs a plan the account does not have (Workers Paid);
* 5028, the model was deprecated or retired ("This model was deprecated on 2026-05-30"), and
  the REST answer "Model has been deprecated: …" that carries no code (quirks research,
  Task 2);
* 7003, no route — only once the account id is known to work. A malformed account id gives
  the same 404/7003 for every model (wire reference §1.1), so walking the chain would only
  hide the real mistake. The account counts as working when this client has had an answer
  before; otherwise one ``GET /ai/models/search`` proves it (it answers whatever the model).
  If that fails too, the first model's error is raised, saying the account is the problem.

Anything else — bad input (5006, any other 400), a wrong token, rate limits, 5xx — is raised
as it is: another model would fail the same way, or the caller should see it.

Each request is built for its own model (its schema validates the parameters); a fallback
model that cannot take the request is skipped with a log line. A stream falls back only
before its first chunk was delivered: after that, the caller has part of an answer. Only the
answering request is recorded in the usage trackers (a failed attempt has no usage), and a
WARNING log line says why the request moved on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from workersai.errors import (
    APIError,
    CapacityExceededError,
    InvalidInputError,
    ModelRetiredError,
    WorkersAIError,
)
from workersai.models import resolve_model

__all__ = ["FallbackWalk", "check_fallback_models", "fallback_reason", "needs_account_check"]

logger = logging.getLogger(__name__)

_R = TypeVar("_R")

# What each code means for the model, as the log line says it.
_REASONS = {
    3040: "is out of capacity (3040)",
    5035: "is not available to this account (5035: needs the Workers Paid plan)",
    5028: "is deprecated or retired (5028)",
    7003: "has no route (7003) although the account works",
}
# The REST answer for a retired model, seen without a code (quirks research, Task 2).
_DEPRECATED = re.compile(r"\bmodel (?:has been|was) deprecated\b|\bwas deprecated on\b", re.I)


def fallback_reason(error: BaseException) -> str | None:
    """Why ``error`` lets a request move to the next model (``"is out of capacity (3040)"``),
    or ``None`` when it must be raised. 7003 needs the account check too
    (:func:`needs_account_check`)."""
    if isinstance(error, CapacityExceededError):
        return _REASONS[3040]
    if isinstance(error, ModelRetiredError):  # 5028, or HTTP 410
        return _REASONS[5028]
    if not isinstance(error, APIError):
        return None
    codes = error.codes
    for code in (3040, 5035, 5028, 7003):
        if code in codes:
            return _REASONS[code]
    if 5006 not in codes and any(_DEPRECATED.search(d.message) for d in error.errors):
        return _REASONS[5028]
    return None


def needs_account_check(error: BaseException) -> bool:
    """Whether ``error`` falls back only once the account id is proven to work (7003)."""
    if not isinstance(error, APIError):
        return False
    codes = error.codes
    return 7003 in codes and not ({3040, 5035, 5028} & set(codes))


def check_fallback_models(models: Any) -> tuple[str, ...]:
    """``fallback_models`` as resolved model ids, checked before any request (a typo gets
    the same "Did you mean" hint as a model anywhere else)."""
    if models is None:
        return ()
    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
        raise InvalidInputError(
            f"fallback_models must be a list of model ids, got {type(models).__name__}",
            field="fallback_models",
        )
    return tuple(resolve_model(model) for model in models)


class FallbackWalk:
    """One call's way down the chain ``[model, *fallback_models]``.

    Example (what the clients do)::

        walk = FallbackWalk(model, fallbacks)
        for request in walk.requests(build):
            try:
                return send(request)
            except WorkersAIError as exc:
                if walk.failed(exc) and not account_works():
                    walk.account_wrong()
        raise walk.exhausted()
    """

    def __init__(self, model: str, fallbacks: Sequence[str] = ()) -> None:
        self.models = [model]
        seen = {resolve_model(model)}
        for other in fallbacks:
            if other not in seen:
                seen.add(other)
                self.models.append(other)
        self.index = 0
        self.first_error: WorkersAIError | None = None
        self.last_error: WorkersAIError | None = None
        self.moved_on: list[str] = []  # "model: why", for the error raised at the end

    @property
    def model(self) -> str:
        """The model of the current attempt."""
        return self.models[self.index]

    def requests(self, build: Callable[[str], _R]) -> Iterator[_R]:
        """The request for each model in turn, built for that model. The first model's bad
        input is raised; a fallback model that cannot take the request is skipped."""
        for index, model in enumerate(self.models):
            self.index = index
            if index == 0:
                yield build(model)
                continue
            try:
                request = build(model)
            except InvalidInputError as exc:
                logger.warning("Skipping fallback model %s: %s", model, exc.message)
                self.moved_on.append(f"{model}: rejected the request ({exc.message})")
                continue
            yield request

    def failed(self, error: WorkersAIError) -> bool:
        """The current model failed with ``error``. Raises it when the request must not move
        on; returns ``True`` when it may move on once the account is proven to work (7003),
        ``False`` when it may move on now."""
        reason = fallback_reason(error)
        if reason is None:
            raise error
        self.first_error = self.first_error or error
        self.last_error = error
        self.moved_on.append(f"{self.model} {reason}")
        if self.index + 1 >= len(self.models):
            raise self.exhausted()
        following = self.models[self.index + 1]
        if needs_account_check(error):
            return True
        logger.warning("%s %s; asking %s instead", self.model, reason, following)
        return False

    def account_ok(self) -> None:
        """The account was proven to work after a 7003: say why the request moves on."""
        logger.warning(
            "%s has no route (7003) although the account works; asking %s instead",
            self.model,
            self.models[self.index + 1],
        )

    def account_wrong(self) -> None:
        """The account could not be proven after a 7003: raise the first model's error."""
        error = self.first_error
        assert error is not None
        note = (
            "Every request of this account fails to route (7003), model search included: "
            "the account id is wrong, not the model — no fallback model was tried."
        )
        error.hint = f"{note} {error.hint}" if error.hint else note
        raise error

    def exhausted(self) -> WorkersAIError:
        """The error to raise when no model could answer: the last model's, saying what
        happened to each."""
        error = self.last_error
        assert error is not None
        if len(self.models) > 1:
            note = "No model of the fallback chain could answer: " + "; ".join(self.moved_on) + "."
            error.hint = f"{note} {error.hint}" if error.hint else note
        return error
