"""What the generation tests share: input files, a Batch API emulator, output readers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workersai.testing import RecordedRequest, Reply, echo_answer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def write_records(path: Path, records: Iterable[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


def prompts(count: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "prompt": f"prompt {i}", **extra} for i in range(start, start + count)]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def asked(request: RecordedRequest) -> str:
    """The prompt a chat request carried (its last message)."""
    body = request.json() or {}
    messages = body.get("messages") or [{}]
    return str(messages[-1].get("content") or body.get("prompt") or "")


def chat_requests(requests: Iterable[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.model and r.query.get("queueRequest") != "true"]


class BatchQueue:
    """The Batch API (wire reference §1.6): a submit answers ``queued`` with a request id;
    a poll answers ``running`` ``polls_before_done`` times, then the responses — in reverse
    order, so the client must use ``external_reference`` to put them back. Other requests go
    to ``fallback`` (default: :func:`echo_answer`)."""

    def __init__(self, polls_before_done: int = 1) -> None:
        self.polls_before_done = polls_before_done
        self.jobs: dict[str, dict[str, Any]] = {}
        self.submits: list[str] = []
        self.polls: list[str] = []
        self.fail_items: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        if request.query.get("queueRequest") != "true":
            return echo_answer(request)
        body = request.json() or {}
        with self._lock:
            if "requests" in body:
                request_id = f"job-{len(self.jobs) + 1}"
                self.jobs[request_id] = {"items": body["requests"], "polls": 0}
                self.submits.append(request_id)
                return Reply.result(
                    {"status": "queued", "request_id": request_id, "model": request.model}
                )
            request_id = body["request_id"]
            self.polls.append(request_id)
            job = self.jobs[request_id]
            if job["polls"] < self.polls_before_done:
                job["polls"] += 1
                return Reply.result({"status": "running", "request_id": request_id})
        responses = []
        for index, item in enumerate(job["items"]):
            text = item.get("prompt") or item["messages"][-1]["content"]
            ok = text not in self.fail_items
            result: Any = (
                {"response": f"batch {text}", "usage": USAGE}
                if ok
                else {"errors": [{"code": 5006, "message": "AiError: Bad input"}]}
            )
            responses.append(
                {
                    "id": index,
                    "result": result,
                    "success": ok,
                    "external_reference": item["external_reference"],
                }
            )
        return Reply.result({"responses": responses[::-1], "usage": USAGE})
