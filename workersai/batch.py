"""Workers AI's asynchronous Batch API (wire reference §1.6).

Submit: ``POST /ai/run/{model}?queueRequest=true`` with ``{"requests": [...]}`` →
``{"status": "queued", "request_id"}``. Poll: the same URL with ``{"request_id"}`` until
the result holds ``responses`` (each with ``id``, ``result``, ``success``,
``external_reference``). Only models with the ``async_queue`` property accept batches.

Nothing documents the order of ``responses``, so the client sends every item with an
``external_reference`` — its index, unless the caller set one — and :meth:`BatchJob.results`
restores submission order from those references (the ones the submitting client sent when
it is the same client, else references that are the indices ``"0"``…``"N-1"``), then from
the items' integer ``id``. An answer that allows neither raises
:class:`~workersai.errors.UnexpectedResponseError` instead of guessing.

Use it through a client::

    job = client.batch.submit("@cf/baai/bge-m3", [{"text": ["a", "b"]}])
    done = client.batch.wait("@cf/baai/bge-m3", job.request_id)
    done.results()          # each request's result, in submission order
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workersai._json import ascii_int
from workersai.errors import UnexpectedResponseError, WorkersAIError
from workersai.results import Usage

__all__ = ["BatchItem", "BatchJob", "BatchTimeoutError"]

PENDING = frozenset({"queued", "running"})


class BatchTimeoutError(WorkersAIError):
    """A batch job did not finish within the wait limit; poll it again later."""

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message, hint=f"Poll again with client.batch.poll(model, {request_id!r}).")
        self.request_id = request_id


def _item_id(raw: Any) -> int | None:
    """The item's integer ``id`` (a digit string counts); ``None`` when it has none."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return ascii_int(raw.strip()) if isinstance(raw, str) else None


def _reference(raw: Any) -> str | None:
    """An ``external_reference`` as text (a number echoed back compares equal to its string)."""
    if raw is None or isinstance(raw, str):
        return raw
    return str(raw)


@dataclass(slots=True)
class BatchItem:
    """One request's outcome inside a finished batch.

    ``id`` is the API's item id (``None`` if it sent none usable); ``external_reference``
    the reference the item was submitted with (the index, unless the caller set one).
    """

    id: int | None
    result: Any
    success: bool
    external_reference: str | None = None


@dataclass(slots=True)
class BatchJob:
    """State of a batch job: ``queued``, ``running`` or ``done``."""

    request_id: str
    status: str
    model: str | None = None
    items: list[BatchItem] = field(default_factory=list)
    usage: Usage | None = None
    raw: Any = None
    # the external_reference of each submitted item, in order, when this client submitted it
    references: list[str | None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def results(self) -> list[Any]:
        """Each request's result in submission order; raises if any request failed."""
        failed = [item for item in self.items if not item.success]
        if failed:
            ids = ", ".join(_label(item) for item in failed[:10])
            raise WorkersAIError(
                f"{len(failed)} request(s) of batch {self.request_id} failed ({ids})",
                hint="Inspect job.items for each request's error.",
            )
        return [item.result for item in self.ordered_items()]

    def ordered_items(self) -> list[BatchItem]:
        """The items in submission order (see the module docstring for how it is known)."""
        items = self.items
        refs = [item.external_reference for item in items]
        if self.references is not None:
            position = {ref: i for i, ref in enumerate(self.references) if ref is not None}
            if len(position) == len(self.references):
                if len(items) != len(position):
                    raise self._malformed(
                        f"answered {len(items)} responses for {len(position)} requests"
                    )
                if len(set(refs)) == len(items) and all(ref in position for ref in refs):
                    return sorted(items, key=lambda item: position[item.external_reference or ""])
        indices = {str(i) for i in range(len(items))}
        if len(set(refs)) == len(items) and set(refs) == indices:
            return sorted(items, key=lambda item: int(item.external_reference or 0))
        ids = [item.id for item in items]
        if all(i is not None for i in ids) and len(set(ids)) == len(items):
            return sorted(items, key=lambda item: item.id or 0)
        raise self._malformed(
            "has responses whose order cannot be known (no distinct external_reference "
            "or integer id on every item)"
        )

    def _malformed(self, problem: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"Batch {self.request_id} {problem}", status_code=200, model=self.model, body=self.raw
        )

    @classmethod
    def from_result(
        cls,
        result: Any,
        *,
        request_id: str | None = None,
        references: Sequence[str | None] | None = None,
    ) -> BatchJob:
        if not isinstance(result, Mapping):
            raise UnexpectedResponseError(
                f"Unexpected Batch API answer: {result!r:.120}", status_code=200, body=result
            )
        job_id = str(result.get("request_id") or request_id or "")
        model = result.get("model") if isinstance(result.get("model"), str) else None
        refs = [_reference(ref) for ref in references] if references is not None else None
        if isinstance(result.get("responses"), list):
            items = []
            for item in result["responses"]:
                if not isinstance(item, Mapping):
                    raise UnexpectedResponseError(
                        f"Unexpected item in batch {job_id}: {item!r:.120}",
                        status_code=200,
                        model=model,
                        body=result,
                    )
                items.append(
                    BatchItem(
                        id=_item_id(item.get("id")),
                        result=item.get("result"),
                        success=bool(item.get("success", True)),
                        external_reference=_reference(item.get("external_reference")),
                    )
                )
            return cls(
                request_id=job_id,
                status="done",
                model=model,
                items=items,
                usage=Usage.from_wire(result.get("usage")),
                raw=result,
                references=refs,
            )
        status = str(result.get("status") or "")
        if status not in PENDING:
            raise UnexpectedResponseError(
                f"Unexpected Batch API status {status!r} for {job_id}", status_code=200, body=result
            )
        return cls(request_id=job_id, status=status, model=model, raw=result, references=refs)


def _label(item: BatchItem) -> str:
    if item.external_reference is not None:
        return f"reference {item.external_reference!r}"
    return f"id {item.id}" if item.id is not None else "no id"
