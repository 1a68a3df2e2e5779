"""Image URLs in chat messages, fetched and inlined: Workers AI accepts images only as data
URIs (wire reference §8.2 — "HTTP URLs are not accepted"), so ``http(s)`` image parts are
downloaded here and sent inline.

URLs are fetched by a client of their own: no Cloudflare token, none of a user
``http_client``'s default headers (which may carry credentials), a short timeout, and the body
streamed with a 20 MB cap, refused as soon as it passes it. Only public addresses are
fetched, at every redirect too (:mod:`workersai._url_guard`; off with
``WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS=1``). Each distinct URL is fetched once; the async twin
fetches them concurrently.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from workersai._concurrency import gather_or_cancel
from workersai._json import ascii_int
from workersai._transport import USER_AGENT, ssl_context
from workersai._url_guard import (
    ALLOW_PRIVATE_ENV,
    AsyncPublicAddressTransport,
    PrivateAddressError,
    PublicAddressTransport,
    private_urls_allowed,
)
from workersai.errors import InvalidInputError

__all__ = ["ainline_image_urls", "inline_image_urls"]

_MAX_IMAGE_BYTES = 20 * 1024 * 1024

Messages = Sequence[Mapping[str, Any]]


def inline_image_urls(messages: Messages | None) -> Messages | None:
    """``messages`` with every ``http(s)`` image URL replaced by its data URI."""
    urls = list(dict.fromkeys(_remote_image_urls(messages)))
    if not urls or messages is None:
        return messages
    with _image_client() as client:
        fetched = {url: _fetch_image(client, url) for url in urls}
    return _with_inlined_images(messages, fetched)


async def ainline_image_urls(messages: Messages | None) -> Messages | None:
    """Async twin of :func:`inline_image_urls` (the URLs are fetched concurrently)."""
    urls = list(dict.fromkeys(_remote_image_urls(messages)))
    if not urls or messages is None:
        return messages
    async with _async_image_client() as client:
        data = await gather_or_cancel([_afetch_image(client, url) for url in urls])
    return _with_inlined_images(messages, dict(zip(urls, data, strict=True)))


def _remote_image_urls(messages: Sequence[Mapping[str, Any]] | None) -> list[str]:
    urls: list[str] = []
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        return urls  # not messages at all: build_chat_request says why
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                if isinstance(url, str) and url.startswith(("http://", "https://")):
                    urls.append(url)
    return urls


def _with_inlined_images(
    messages: Sequence[Mapping[str, Any]], data_uris: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            out.append(message)
            continue
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                if isinstance(url, str) and url in data_uris:
                    part = {"type": "image_url", "image_url": {"url": data_uris[url]}}
            parts.append(part)
        out.append({**message, "content": parts})
    return out


_IMAGE_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
_IMAGE_HEADERS = {"User-Agent": USER_AGENT, "Accept": "image/*"}
_IMAGE_HINT = "Workers AI needs images inline; pass the bytes or a data URI instead."


_IMAGE_CLIENT_OPTIONS: dict[str, Any] = {
    "timeout": _IMAGE_TIMEOUT,
    "follow_redirects": True,
    "headers": _IMAGE_HEADERS,
}


def _image_client() -> httpx.Client:
    if private_urls_allowed():
        return httpx.Client(**_IMAGE_CLIENT_OPTIONS, verify=ssl_context())
    guarded = PublicAddressTransport(verify=ssl_context())
    return httpx.Client(**_IMAGE_CLIENT_OPTIONS, transport=guarded, trust_env=False)


def _async_image_client() -> httpx.AsyncClient:
    if private_urls_allowed():
        return httpx.AsyncClient(**_IMAGE_CLIENT_OPTIONS, verify=ssl_context())
    guarded = AsyncPublicAddressTransport(verify=ssl_context())
    return httpx.AsyncClient(**_IMAGE_CLIENT_OPTIONS, transport=guarded, trust_env=False)


def _image_content_type(url: str, response: httpx.Response) -> str:
    """The image type of a fetched URL, checked before any of the body is read."""
    if response.status_code != 200:
        raise InvalidInputError(
            f"Could not fetch image {url}: HTTP {response.status_code}", hint=_IMAGE_HINT
        )
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.startswith("image/"):
        raise InvalidInputError(
            f"{url} is not an image (content-type {content_type or 'missing'!r})",
            hint=_IMAGE_HINT,
        )
    declared = ascii_int(response.headers.get("content-length", ""))
    if declared is not None and declared > _MAX_IMAGE_BYTES:
        raise _image_too_large(url)
    return content_type


def _image_too_large(url: str) -> InvalidInputError:
    return InvalidInputError(
        f"{url} is larger than {_MAX_IMAGE_BYTES // (1024 * 1024)} MB", hint=_IMAGE_HINT
    )


class _ImageBuffer:
    """Collects an image body, refusing it as soon as it passes the size limit."""

    def __init__(self, url: str, content_type: str) -> None:
        self.url = url
        self.content_type = content_type
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > _MAX_IMAGE_BYTES:
            raise _image_too_large(self.url)
        self.parts.append(chunk)

    def data_uri(self) -> str:
        encoded = base64.b64encode(b"".join(self.parts)).decode("ascii")
        return f"data:{self.content_type};base64,{encoded}"


def _fetch_image(client: httpx.Client, url: str) -> str:
    try:
        with client.stream("GET", url) as response:
            buffer = _ImageBuffer(url, _image_content_type(url, response))
            for chunk in response.iter_bytes():
                buffer.add(chunk)
    except (httpx.HTTPError, PrivateAddressError) as exc:
        raise _fetch_failed(url, exc) from exc
    return buffer.data_uri()


async def _afetch_image(client: httpx.AsyncClient, url: str) -> str:
    try:
        async with client.stream("GET", url) as response:
            buffer = _ImageBuffer(url, _image_content_type(url, response))
            async for chunk in response.aiter_bytes():
                buffer.add(chunk)
    except (httpx.HTTPError, PrivateAddressError) as exc:
        raise _fetch_failed(url, exc) from exc
    return buffer.data_uri()


def _fetch_failed(url: str, exc: Exception) -> InvalidInputError:
    if isinstance(exc, PrivateAddressError):
        return InvalidInputError(
            f"Refused to fetch image {url}: {exc}",
            hint=(
                "Image URLs are fetched from public addresses only, so that URLs from users "
                "cannot reach internal services. Pass the image's bytes or a data URI "
                f"instead, or set {ALLOW_PRIVATE_ENV}=1 if every URL you pass is trusted."
            ),
        )
    return InvalidInputError(f"Could not fetch image {url}: {exc}", hint=_IMAGE_HINT)
