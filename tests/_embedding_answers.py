"""A loopback handler answering embedding requests the way Workers AI does (wire reference
§6: ``{"shape", "data", "pooling"}`` in the v4 envelope), shaped so order can be checked.

Text ``"t <i>"`` gets the vector ``[i, <number of texts in its request>]`` (a text not
ending in a number gets ``-1`` first), so every test can tell that vector *i* belongs to
text *i* whatever order the requests completed in, and how the texts were split.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from workersai.testing import RecordedRequest, Reply


def request_texts(request: RecordedRequest) -> list[str]:
    """The texts of an embedding request, whichever input key the model takes."""
    body = request.json()
    for key in ("text", "documents", "queries", "input"):
        if key in body:
            return list(body[key])
    raise AssertionError(f"no texts in {body}")


def text_index(text: str) -> float:
    number = text.rsplit(" ", 1)[-1]
    return float(number) if number.isdigit() else -1.0


class EmbeddingAnswers:
    """Answers after ``delay`` seconds (or ``delay(texts)``), counting requests in flight
    (``peak``) and noting the first index of each request as it completes (``completed``)."""

    def __init__(self, delay: float | Callable[[list[str]], float] = 0.0) -> None:
        self.delay = delay if callable(delay) else (lambda _texts, seconds=delay: seconds)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.completed: list[int] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        batch = request_texts(request)
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay(batch))
        finally:
            with self.lock:
                self.in_flight -= 1
                self.completed.append(int(text_index(batch[0])))
        data = [[text_index(text), float(len(batch))] for text in batch]
        return Reply.result({"shape": [len(batch), 2], "data": data, "pooling": "mean"})
