"""httpx transports that connect to public IP addresses only: the guard of fetched image URLs.

This package downloads the image URLs of chat messages itself (Workers AI takes images
inline, wire reference §8.2). An app that passes its users' URLs would otherwise let them
read internal services through the model: ``http://169.254.169.254/latest/meta-data/`` (a
cloud's metadata service), ``http://localhost:8080/admin``, a 10.x intranet host.

The guard sits where a connection is opened (httpcore's network backend), so it sees every
connection: the first and each redirect hop's. It resolves the host once, refuses it unless
every address it resolves to is public, and connects to the checked address. The URL, the
``Host`` header and the TLS server name stay the hostname (certificates are verified as
usual), and a DNS answer that changes between the check and the connection ("DNS
rebinding") cannot get through.

``WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS=1`` turns the guard off, for images on an intranet or a
local server; the URLs are then fetched as any httpx client would (environment proxies
included). With the guard on they are fetched directly: through a proxy, the proxy would
resolve the host out of the guard's sight.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "AsyncPublicAddressTransport",
    "PrivateAddressError",
    "PublicAddressTransport",
    "private_urls_allowed",
]

ALLOW_PRIVATE_ENV = "WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressError(Exception):
    """A connection to a host that is, or resolves to, a non-public address was refused."""

    def __init__(self, host: str, address: IPAddress) -> None:
        where = host if host == str(address) else f"{host} ({address})"
        super().__init__(f"{where} is not a public address")
        self.host = host
        self.address = address


def private_urls_allowed() -> bool:
    """Whether ``WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS`` turns the guard off."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in {"1", "true", "yes"}


def _is_public(address: IPAddress) -> bool:
    # is_global is False for private, loopback, link-local, shared (100.64/10), reserved and
    # documentation ranges; multicast counts as global to ipaddress but is no image host,
    # also when IPv4-mapped (::ffff:224.0.0.1).
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _unresolvable(host: str, exc: OSError) -> httpcore.ConnectError:
    return httpcore.ConnectError(f"cannot resolve {host}: {exc}")


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _unresolvable(host, exc) from exc
    return [str(info[4][0]) for info in infos]


async def _aresolve(host: str, port: int) -> list[str]:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _unresolvable(host, exc) from exc
    return [str(info[4][0]) for info in infos]


def _checked_address(host: str, addresses: list[str]) -> str:
    """The address to connect to, once every address ``host`` resolves to is public."""
    for text in addresses:
        address = ipaddress.ip_address(text.partition("%")[0])  # without an IPv6 scope id
        if not _is_public(address):
            raise PrivateAddressError(host, address)
    return addresses[0]


SocketOptions = Iterable[Any] | None  # httpcore's socket options, passed through


class _PublicOnlyBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        address = _checked_address(host, _resolve(host, port))
        return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncPublicOnlyBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        address = _checked_address(host, await _aresolve(host, port))
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicAddressTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` that connects to public addresses only (see module doc)."""

    def __init__(self, **transport_options: Any) -> None:
        super().__init__(**transport_options)
        # httpx has no argument for the network backend of the pool it builds.
        self._pool._network_backend = _PublicOnlyBackend(self._pool._network_backend)


class AsyncPublicAddressTransport(httpx.AsyncHTTPTransport):
    """Async twin of :class:`PublicAddressTransport`."""

    def __init__(self, **transport_options: Any) -> None:
        super().__init__(**transport_options)
        self._pool._network_backend = _AsyncPublicOnlyBackend(self._pool._network_backend)
