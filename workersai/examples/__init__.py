"""Run the demo and the notebooks anywhere: live with credentials, offline without.

Each example (``workersai demo``, ``notebooks/*.ipynb``) starts with::

    from workersai.examples import replay_unless_live
    replay_unless_live("01_langchain_quickstart")

With ``CLOUDFLARE_ACCOUNT_ID`` and ``CLOUDFLARE_API_TOKEN`` (or the ``CF_*`` / ``*_FILE``
variants) set, it does nothing but say so: the example runs against Cloudflare. Without them,
it starts a loopback server that answers every request of that example with the exchange
bundled next to this file (``<name>.json.gz``) and points the process at it through
``CLOUDFLARE_BASE_URL``, so the example's code is exactly what a user would write. Only the
HTTP answers are replayed: requests still go through the real transport, SSE decoder,
embeddings batching, tool-calling loop and vector index.

The bundled answers were **composed** in Workers AI's documented wire format by the test
emulator (``tests/compose``, see ``tests/cassettes/README.md``), not recorded from Cloudflare.
``python scripts/compose_examples.py`` re-composes them after an example changes.
"""

from __future__ import annotations

import atexit
import base64
import gzip
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workersai._config import (
    ACCOUNT_ID_ENV,
    API_TOKEN_ENV,
    BASE_URL_ENV,
    GATEWAY_ENV,
    account_id_from_env,
    api_token_from_env,
)
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

__all__ = [
    "EXAMPLES_DIR",
    "OFFLINE_ENV",
    "ExampleReplay",
    "Exchange",
    "example_names",
    "load_exchanges",
    "readme_text",
    "replay_unless_live",
    "save_exchanges",
]

logger = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).parent
FORMAT = "workersai-example-exchanges/1"
#: Set to 1 to replay the bundled answers even when credentials are configured.
OFFLINE_ENV = "WORKERSAI_OFFLINE"
#: Seconds between replayed stream events, so a replayed stream looks like one (default 0.02).
PACE_ENV = "WORKERSAI_REPLAY_PACE"
OFFLINE_ACCOUNT_ID = "offline-example"
OFFLINE_NOTICE = (
    "offline: replaying bundled example responses — set CLOUDFLARE_ACCOUNT_ID and "
    "CLOUDFLARE_API_TOKEN to run live"
)
#: Offline although credentials are set (asked for): no advice to set what is set.
OFFLINE_AS_ASKED_NOTICE = (
    "offline, as asked: replaying bundled example responses; your Cloudflare credentials are "
    "not used"
)
COMPOSED_NOTE = (
    "Composed in the documented Workers AI wire format by the test emulator (tests/compose), "
    "not recorded from Cloudflare."
)

_ACCOUNT_PATH = re.compile(r"/accounts/[^/]+/")
# Ids the package generates at random (tool calls without ids, uuids): equal when masked.
_RANDOM_IDS = re.compile(
    r"call_[0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|~wai[0-9a-f]{8}"
)


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got, as stored in an example file."""

    request: dict[str, Any]
    response: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.request["key"])


def request_key(method: str, path: str, query: Mapping[str, str], body: bytes) -> str:
    """What identifies a request across runs: route, query and body (random ids masked)."""
    route = _ACCOUNT_PATH.sub("/accounts/ACCOUNT_ID/", path.split("/client/v4", 1)[-1])
    try:
        payload: Any = json.loads(body) if body else None
        content = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    except ValueError:  # audio, images, multipart forms
        content = "sha256:" + hashlib.sha256(body).hexdigest()
    query_text = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    return _RANDOM_IDS.sub("<id>", f"{method} {route}?{query_text} {content}")


def _encode_reply(reply: Reply) -> dict[str, Any]:
    body = b"".join(reply.chunks) if reply.chunks is not None else reply.body
    stored: dict[str, Any] = {"status": reply.status, "headers": dict(reply.headers)}
    try:
        stored["text"] = body.decode("utf-8")
    except UnicodeDecodeError:
        stored["base64"] = base64.b64encode(body).decode("ascii")
    return stored


def _decode_reply(stored: Mapping[str, Any], pace: float) -> Reply:
    headers = dict(stored.get("headers") or {})
    if "base64" in stored:
        body = base64.b64decode(stored["base64"])
    else:
        body = str(stored.get("text", "")).encode("utf-8")
    status = int(stored.get("status", 200))
    if headers.get("content-type", "").startswith("text/event-stream"):
        chunks = [event + b"\n\n" for event in body.split(b"\n\n") if event]
        return Reply(status, headers, chunks=chunks, chunk_delay=pace)
    return Reply(status, headers, body)


def example_path(name: str) -> Path:
    return EXAMPLES_DIR / f"{name}.json.gz"


def example_names() -> list[str]:
    """The examples bundled with the package."""
    return sorted(p.name.removesuffix(".json.gz") for p in EXAMPLES_DIR.glob("*.json.gz"))


def load_exchanges(name: str) -> list[Exchange]:
    """The bundled exchanges of one example (``"demo"``, ``"01_langchain_quickstart"``…)."""
    path = example_path(name)
    if not path.exists():
        known = ", ".join(example_names()) or "none"
        raise FileNotFoundError(f"No bundled example {name!r} (bundled: {known}).")
    data = json.loads(gzip.decompress(path.read_bytes()))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    return [Exchange(item["request"], item["response"]) for item in data["exchanges"]]


def save_exchanges(
    name: str, exchanges: Iterable[tuple[RecordedRequest, Reply]], *, about: str = ""
) -> Path:
    """Write an example file (used by ``scripts/compose_examples.py``). Only the route,
    query and body of each request are kept: never a header, so never a token."""
    items = []
    for request, reply in exchanges:
        items.append(
            {
                "request": {
                    "key": request_key(request.method, request.path, request.query, request.body),
                },
                "response": _encode_reply(reply),
            }
        )
    data = {"format": FORMAT, "name": name, "about": about or COMPOSED_NOTE, "exchanges": items}
    path = example_path(name)
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)
    # mtime=0: the same exchanges give the same bytes, so re-composing leaves no diff
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return path


class ExampleReplay:
    """A request handler answering from bundled exchanges.

    Each recorded answer plays once, in order, for requests with the same key; a request
    repeated more often than recorded (a notebook cell run twice) gets the last answer again.
    A request that was never recorded gets a 400 whose message says so, instead of a
    made-up answer.
    """

    def __init__(self, exchanges: Iterable[Exchange], *, pace: float = 0.0) -> None:
        self._answers: dict[str, list[Mapping[str, Any]]] = {}
        for exchange in exchanges:
            self._answers.setdefault(exchange.key, []).append(exchange.response)
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self.pace = pace
        self.unmatched: list[str] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        key = request_key(request.method, request.path, request.query, request.body)
        with self._lock:
            answers = self._answers.get(key)
            if not answers:
                self.unmatched.append(key)
                logger.warning("no bundled answer for %s", key[:200])
                return Reply.error(
                    400,
                    None,
                    "Offline example replay: this request was not part of the bundled example "
                    f"({request.method} {key.split(' ', 2)[1]}). Run live with "
                    "CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN set, or re-compose the "
                    "example (python scripts/compose_examples.py).",
                )
            index = self._served.get(key, 0)
            self._served[key] = index + 1
            stored = answers[min(index, len(answers) - 1)]
        return _decode_reply(stored, self.pace)


_ACTIVE: dict[str, WorkersAIServer] = {}
_ACTIVE_LOCK = threading.Lock()


def has_credentials() -> bool:
    """Whether an account id and a token are configured (variables or ``*_FILE`` files)."""
    return account_id_from_env() is not None and api_token_from_env() is not None


def replay_unless_live(
    name: str, *, offline: bool = False, announce: Callable[[str], Any] | None = print
) -> Literal["live", "offline"]:
    """Run example ``name`` live if credentials are configured, else replay its bundled answers.

    Offline, a loopback replay server starts (once per process and example) and
    ``CLOUDFLARE_BASE_URL``, ``CLOUDFLARE_ACCOUNT_ID`` and ``CLOUDFLARE_API_TOKEN`` are set
    for this process, so every client created afterwards talks to it. Pass ``offline=True``
    (``workersai demo --offline``) or set ``WORKERSAI_OFFLINE=1`` to replay even with
    credentials configured.

    Returns ``"live"`` or ``"offline"``; ``announce`` receives the one-line notice.
    """
    forced = offline or os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")
    credentials = has_credentials()
    if credentials and not forced:
        if announce is not None:
            announce("live: calling Cloudflare Workers AI with your credentials")
        return "live"
    exchanges = load_exchanges(name)
    pace = float(os.environ.get(PACE_ENV, "0.02") or 0)
    with _ACTIVE_LOCK:
        server = _ACTIVE.get(name)
        if server is None:
            server = WorkersAIServer(ExampleReplay(exchanges, pace=pace)).start()
            atexit.register(server.stop)
            _ACTIVE[name] = server
    for variable in (*ACCOUNT_ID_ENV, *API_TOKEN_ENV, GATEWAY_ENV):
        os.environ.pop(variable, None)
    os.environ.pop("CLOUDFLARE_ACCOUNT_ID_FILE", None)
    os.environ.pop("CLOUDFLARE_API_TOKEN_FILE", None)
    os.environ[BASE_URL_ENV] = server.base_url
    os.environ["CLOUDFLARE_ACCOUNT_ID"] = OFFLINE_ACCOUNT_ID
    os.environ["CLOUDFLARE_API_TOKEN"] = "offline-example-not-a-token"
    if announce is not None:
        announce(OFFLINE_AS_ASKED_NOTICE if credentials else OFFLINE_NOTICE)
    return "offline"


def readme_text() -> str:
    """The project README: bundled in the wheel, or the source tree's for an editable install."""
    for candidate in (EXAMPLES_DIR / "README.md", EXAMPLES_DIR.parents[1] / "README.md"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError("README.md is neither bundled with the package nor in its source tree")
