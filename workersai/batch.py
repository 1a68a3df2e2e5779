"""Workers AI's asynchronous Batch API (wire reference §1.6).

Submit: ``POST /ai/run/{model}?queueRequest=true`` with ``{"requests": [...]}`` →
``{"status": "queued", "request_id"}``. Poll: the same URL with ``{"request_id"}`` until
the result holds ``responses`` (each with ``id``, ``result``, ``success``,
``external_reference``). Only models with the ``async_queue`` property accept batches.

Use it through a client::

    job = client.batch.submit("@cf/baai/bge-m3", [{"text": ["a", "b"]}])
    done = client.batch.wait("@cf/baai/bge-m3", job.request_id)
    done.results()          # each request's result, in submission order
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workersai.errors import UnexpectedResponseError, WorkersAIError
from workersai.responses import Usage

__all__ = ["BatchItem", "BatchJob", "BatchTimeoutError"]

PENDING = frozenset({"queued", "running"})


class BatchTimeoutError(WorkersAIError):
    """A batch job did not finish within the wait limit; poll it again later."""

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message, hint=f"Poll again with client.batch.poll(model, {request_id!r}).")
        self.request_id = request_id


def _item_id(raw: Any, position: int) -> int:
    """The item's ``id`` (its position in the submitted job); the list position otherwise."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    return position


@dataclass(slots=True)
class BatchItem:
    """One request's outcome inside a finished batch."""

    id: int
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

    @property
    def done(self) -> bool:
        return self.status == "done"

    def results(self) -> list[Any]:
        """Each request's result in submission order; raises if any request failed."""
        failed = [item for item in self.items if not item.success]
        if failed:
            ids = ", ".join(str(item.id) for item in failed[:10])
            raise WorkersAIError(
                f"{len(failed)} request(s) of batch {self.request_id} failed (ids {ids})",
                hint="Inspect job.items for each request's error.",
            )
        return [item.result for item in sorted(self.items, key=lambda i: i.id)]

    @classmethod
    def from_result(cls, result: Any, *, request_id: str | None = None) -> BatchJob:
        if not isinstance(result, Mapping):
            raise UnexpectedResponseError(
                f"Unexpected Batch API answer: {result!r:.120}", status_code=200, body=result
            )
        job_id = str(result.get("request_id") or request_id or "")
        if isinstance(result.get("responses"), list):
            items = [
                BatchItem(
                    id=_item_id(item.get("id"), index),
                    result=item.get("result"),
                    success=bool(item.get("success", True)),
                    external_reference=item.get("external_reference"),
                )
                for index, item in enumerate(result["responses"])
                if isinstance(item, Mapping)
            ]
            return cls(
                request_id=job_id,
                status="done",
                model=result.get("model"),
                items=items,
                usage=Usage.from_wire(result.get("usage")),
                raw=result,
            )
        status = str(result.get("status") or "")
        if status not in PENDING:
            raise UnexpectedResponseError(
                f"Unexpected Batch API status {status!r} for {job_id}", status_code=200, body=result
            )
        return cls(request_id=job_id, status=status, model=result.get("model"), raw=result)
