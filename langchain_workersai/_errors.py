"""Raise Workers AI errors as langchain-core's ``Model*Error`` family too.

Each core error class gets a twin that subclasses both the core class and the matching
langchain-core class, so ``except workersai.CapacityExceededError`` and
``except langchain_core.exceptions.ModelRateLimitError`` both catch it.

Example:
    >>> try:
    ...     chat.invoke("hi")
    ... except ModelRateLimitError as err:
    ...     print(err.code, err.is_retryable)   # 3040 True (3036 would say False)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core import exceptions as lc

from workersai import errors as core

# Most specific first: the first core base found in an error's MRO decides.
_MAPPING: tuple[tuple[type[core.WorkersAIError], type[lc.ModelError]], ...] = (
    (core.MissingCredentialsError, lc.ModelAuthenticationError),
    (core.AuthenticationError, lc.ModelAuthenticationError),
    (core.PermissionDeniedError, lc.ModelPermissionDeniedError),
    (core.NotFoundError, lc.ModelNotFoundError),
    (core.RateLimitError, lc.ModelRateLimitError),
    (core.RequestTimeoutError, lc.ModelTimeoutError),
    (core.APITimeoutError, lc.ModelTimeoutError),
    (core.APIConnectionError, lc.ModelConnectionError),
    (core.InternalServerError, lc.ModelAPIError),
    (core.ConflictError, lc.ModelAPIError),
    (core.UnexpectedResponseError, lc.ModelAPIError),
    (core.StreamError, lc.ModelAPIError),
    (core.BadRequestError, lc.ModelInvalidRequestError),
    (core.RequestTooLargeError, lc.ModelInvalidRequestError),
    (core.InvalidInputError, lc.ModelInvalidRequestError),
    (core.APIError, lc.ModelAPIError),
)

_CONTEXT_OVERFLOW = re.compile(
    r"context (length|window)|maximum context|too many (input )?tokens|exceeds? the model", re.I
)


_TWINS: dict[tuple[type[core.WorkersAIError], type[lc.ModelError]], type[BaseException]] = {}


def _twin(cls: type[core.WorkersAIError], lc_base: type[lc.ModelError]) -> type[BaseException]:
    twin = _TWINS.get((cls, lc_base))
    if twin is None:
        twin = _TWINS[(cls, lc_base)] = type(
            cls.__name__,
            (cls, lc_base),
            {
                "__module__": cls.__module__,
                "__doc__": cls.__doc__,
                "__qualname__": cls.__qualname__,
            },
        )
    return twin


def to_langchain_error(error: core.WorkersAIError) -> BaseException:
    """The same error as an instance of a class that is also a langchain-core ``ModelError``."""
    if isinstance(error, lc.ModelError):
        return error
    lc_base: type[lc.ModelError] | None = None
    if isinstance(error, core.BadRequestError) and _CONTEXT_OVERFLOW.search(error.message):
        lc_base = lc.ContextOverflowError
    else:
        for core_cls, candidate in _MAPPING:
            if isinstance(error, core_cls):
                lc_base = candidate
                break
    if lc_base is None:
        return error
    twin = _twin(type(error), lc_base)
    converted = twin.__new__(twin)
    converted.__dict__.update(error.__dict__)
    converted.args = error.args
    return converted


@contextmanager
def langchain_errors() -> Iterator[None]:
    """Re-raise core errors as their langchain-core twins (traceback and cause kept)."""
    try:
        yield
    except core.WorkersAIError as error:
        converted = to_langchain_error(error)
        if converted is error:
            raise
        raise converted.with_traceback(error.__traceback__) from error.__cause__
