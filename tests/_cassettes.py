"""VCR cassette plumbing: storage format, scrubbing and request matching.

Cassettes are gzip'd YAML (``tests/cassettes/<Class>.<test>.yaml.gz``), one per test.
Text bodies are stored as text so a decompressed cassette reads like the wire exchange.

Scrubbing happens before anything is written *and* before a live request is matched, so it
is symmetric: the API host (or a loopback emulator's ``http://127.0.0.1:<port>``) becomes
``https://api.cloudflare.com``, the account id in the path becomes ``ACCOUNT_ID``, every
request header is dropped, and only a few harmless response headers are kept.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request

from workersai._config import (
    ACCOUNT_ID_ENV,
    API_TOKEN_ENV,
    account_id_from_env,
    api_token_from_env,
)

CASSETTES = Path(__file__).parent / "cassettes"
PUBLIC_ROOT = "https://api.cloudflare.com/client/v4"
ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"
TOKEN_PLACEHOLDER = "TOKEN"

_ROOT = re.compile(r"^https?://[^/]+/client/v4")
_ACCOUNT = re.compile(r"/accounts/[^/]+/")
_KEEP_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "retry-after",
        "retry-after-ms",
        "cf-aig-cache-status",
        "cf-aig-log-id",
        "cf-aig-event-id",
    }
)
# Ids the package or the test suites generate at random: masked when matching bodies.
_RANDOM_IDS = re.compile(
    r"call_[0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|~wai[0-9a-f]{8}"
)


def _secrets() -> list[tuple[str, str]]:
    """``(value, placeholder)`` of every credential the environment holds — variables and
    the ``*_FILE`` files — longest first, so a value containing another goes whole.

    The placeholder follows from *where* a value came from (a token variable or an account
    id variable), never from what the value looks like: a token need not contain "TOKEN",
    and an account id may.
    """
    found: dict[str, str] = {}
    for names, resolved, placeholder in (
        (API_TOKEN_ENV, api_token_from_env(), TOKEN_PLACEHOLDER),
        (ACCOUNT_ID_ENV, account_id_from_env(), ACCOUNT_PLACEHOLDER),
    ):
        values = [os.environ.get(name, "").strip() for name in names]
        values.append(
            resolved.get_secret_value() if isinstance(resolved, SecretStr) else resolved or ""
        )
        for value in values:
            if len(value) >= 4:
                found.setdefault(value, placeholder)  # a token that is also an id: TOKEN
    return sorted(found.items(), key=lambda item: -len(item[0]))


def _scrub_text(text: str) -> str:
    for secret, placeholder in _secrets():
        text = text.replace(secret, placeholder)
    return text


def _scrub_body(body: Any) -> Any:
    if isinstance(body, bytes):
        try:
            return _scrub_text(body.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return body
    if isinstance(body, str):
        return _scrub_text(body)
    return body


def scrub_request(request: Request) -> Request:
    request.uri = _ACCOUNT.sub(
        f"/accounts/{ACCOUNT_PLACEHOLDER}/", _ROOT.sub(PUBLIC_ROOT, request.uri), count=1
    )
    request.headers = {}
    request.body = _scrub_body(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {
        k: v for k, v in response["headers"].items() if k.lower() in _KEEP_RESPONSE_HEADERS
    }
    body = response.get("body") or {}
    if "string" in body:
        body["string"] = _scrub_body(body["string"])
    return response


def _normalised(body: bytes | str | None) -> Any:
    """A JSON body as its value (generated ids masked); any other body as its bytes.

    Decoding binary bodies "with replacement" would turn two different images or audio
    clips into the same string of U+FFFD characters, so they are never decoded.
    """
    data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    try:
        return json.loads(_RANDOM_IDS.sub("<ID>", data.decode("utf-8")))
    except ValueError:  # UnicodeDecodeError is one
        return data


def json_body_matcher(r1: Request, r2: Request) -> None:
    """JSON bodies equal as values (key order ignored, generated ids masked); other bodies
    (raw audio and images, multipart forms) equal byte for byte."""
    assert _normalised(r1.body) == _normalised(r2.body)


def _text_or_bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _as_bytes(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


class GzipYamlSerializer:
    """gzip'd ``yaml.safe_dump`` (safe to load), bodies kept as text when they are UTF-8."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> bytes:
        data = {
            "version": cassette.get("version", 1),
            "requests": [
                {
                    "method": r.method,
                    "uri": r.uri,
                    "body": _text_or_bytes(r.body),
                    "headers": {k: [v] for k, v in r.headers.items()},
                }
                for r in cassette["requests"]
            ],
            "responses": [
                {**resp, "body": {"string": _text_or_bytes(resp["body"]["string"])}}
                for resp in cassette["responses"]
            ],
        }
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")
        # mtime=0: re-recording the same exchange gives the same bytes (no spurious diffs)
        return gzip.compress(text, mtime=0)

    @staticmethod
    def deserialize(data: bytes) -> dict[str, Any]:
        cassette = yaml.safe_load(gzip.decompress(data).decode("utf-8"))
        cassette["requests"] = [
            Request(r["method"], r["uri"], _as_bytes(r["body"]), r["headers"])
            for r in cassette["requests"]
        ]
        for response in cassette["responses"]:
            response["body"]["string"] = _as_bytes(response["body"]["string"])
        return cassette


class FilesystemPersister:
    @staticmethod
    def load_cassette(
        cassette_path: str | Path, serializer: GzipYamlSerializer
    ) -> tuple[list[Any], list[Any]]:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError(f"Cassette file {path} does not exist.")
        cassette = serializer.deserialize(path.read_bytes())
        return cassette["requests"], cassette["responses"]

    @staticmethod
    def save_cassette(
        cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: GzipYamlSerializer
    ) -> None:
        path = Path(cassette_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(serializer.serialize(cassette_dict))


def load_cassette(path: str | Path) -> dict[str, Any]:
    """Decode a cassette file (for inspection and for the secrets test)."""
    return GzipYamlSerializer.deserialize(Path(path).read_bytes())
