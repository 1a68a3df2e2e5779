"""The SSRF guard of fetched image URLs (``workersai._url_guard``).

Workers AI takes images inline only (per reference §8.2), so the client downloads the image
URLs of chat messages itself. An app that passes its users' URLs must not let them reach
internal services: only public addresses are fetched — checked where the connection opens,
for the first request and every redirect hop, and the connection goes to the address that
was checked. ``WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS=1`` turns the guard off.

Hostnames are resolved through patched resolvers (``images.example`` → 127.0.0.1), and the
``loopback_images`` fixture lets 127.0.0.1 count as public where a test needs a server.
"""

from __future__ import annotations

import base64
import http.server
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.conftest import LOOPBACK
from workersai import AsyncWorkersAI, InvalidInputError, WorkersAI, _image_urls, _url_guard
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

pytestmark = LOOPBACK

SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
DATA_URI = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
HINT = (
    "Image URLs are fetched from public addresses only, so that URLs from users cannot reach "
    "internal services. Pass the image's bytes or a data URI instead, or set "
    "WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS=1 if every URL you pass is trusted."
)
FLAVOURS = ["sync", "async"]


def _png(request: RecordedRequest) -> Reply:
    return Reply.binary(PNG_1PX, "image/png")


def _vision(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


async def _chat(flavour: str, server: WorkersAIServer, url: str) -> None:
    if flavour == "sync":
        WorkersAI("a", "t", base_url=server.base_url, max_retries=0).chat(SCOUT, _vision(url))
    else:
        client = AsyncWorkersAI("a", "t", base_url=server.base_url, max_retries=0)
        await client.chat(SCOUT, _vision(url))
        await client.aclose()


def _sent_image(server: WorkersAIServer) -> str:
    return str(server.requests[0].json()["messages"][0]["content"][1]["image_url"]["url"])


class FakeDNS:
    """Host → addresses for both resolvers of the guard; an address literal resolves to
    itself. ``lookups`` lists the hosts resolved, in order."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.table.get(host, [host])

    async def aresolve(self, host: str, port: int) -> list[str]:
        return self.resolve(host, port)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(_url_guard, "_resolve", fake.resolve)
    monkeypatch.setattr(_url_guard, "_aresolve", fake.aresolve)
    return fake


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),  # loopback
        ("10.1.2.3", False),  # RFC 1918
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # link-local: cloud metadata services
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("192.0.2.1", False),  # documentation
        ("224.0.0.1", False),  # multicast, "global" to ipaddress
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),  # unique local: AWS metadata over IPv6
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("::ffff:224.0.0.1", False),  # mapped multicast: judged as the IPv4 address
        ("ff02::1", False),
        ("1.1.1.1", True),
        ("8.8.8.8", True),
        ("104.16.0.1", True),
        ("2606:4700::1111", True),
        ("::ffff:1.1.1.1", True),
    ],
)
def test_only_public_addresses_pass(address: str, public: bool) -> None:
    assert _url_guard._is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_private_image_url_is_refused_before_any_request(
    server: WorkersAIServer, flavour: str
) -> None:
    with WorkersAIServer(_png) as host:
        url = f"http://127.0.0.1:{host.port}/cat.png"
        with pytest.raises(InvalidInputError) as info:
            await _chat(flavour, server, url)
        assert host.requests == []  # refused before connecting
    assert info.value.message == f"Refused to fetch image {url}: 127.0.0.1 is not a public address"
    assert info.value.hint == HINT
    assert server.requests == []


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_hostname_is_judged_by_every_address_it_resolves_to(
    server: WorkersAIServer, dns: FakeDNS, loopback_images: None, flavour: str
) -> None:
    # The first address is public (127.0.0.1 counts as such here), the second is not: a
    # check of the first alone would let the connection reach the second.
    dns.table["mixed.example"] = ["127.0.0.1", "10.0.0.7"]
    with WorkersAIServer(_png) as host:
        url = f"http://mixed.example:{host.port}/cat.png"
        with pytest.raises(InvalidInputError) as info:
            await _chat(flavour, server, url)
        assert host.requests == []
    assert info.value.message == (
        f"Refused to fetch image {url}: mixed.example (10.0.0.7) is not a public address"
    )
    assert server.requests == []


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_the_connection_goes_to_the_checked_address_and_keeps_the_hostname(
    server: WorkersAIServer, dns: FakeDNS, loopback_images: None, flavour: str
) -> None:
    # images.example resolves only through the guard's resolver: the fetch reaching the
    # server shows that the connection used the address the guard checked (a second lookup,
    # which a rebinding DNS server could answer differently, would fail here).
    dns.table["images.example"] = ["127.0.0.1"]
    server.enqueue(Reply.result({"response": "a pixel"}))
    with WorkersAIServer(_png) as host:
        await _chat(flavour, server, f"http://images.example:{host.port}/cat.png")
        [fetch] = host.requests
    assert fetch.headers["host"] == f"images.example:{host.port}"
    assert fetch.path == "/cat.png"
    assert dns.lookups == ["images.example"]  # once: no second lookup
    assert _sent_image(server) == DATA_URI


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_redirect_to_a_private_address_is_refused_at_the_hop(
    server: WorkersAIServer, loopback_images: None, flavour: str
) -> None:
    def redirect(request: RecordedRequest) -> Reply:
        return Reply(302, {"location": "http://127.0.0.2/latest/meta-data/"})

    with WorkersAIServer(redirect) as host:
        url = f"http://127.0.0.1:{host.port}/cat.png"
        with pytest.raises(InvalidInputError) as info:
            await _chat(flavour, server, url)
        assert len(host.requests) == 1  # the public hop was fetched, the private one refused
    assert info.value.message == f"Refused to fetch image {url}: 127.0.0.2 is not a public address"
    assert server.requests == []


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_the_guard_is_off_with_the_environment_switch(
    server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    monkeypatch.setenv("WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS", "1")
    server.enqueue(Reply.result({"response": "a pixel"}))
    with WorkersAIServer(_png) as host:
        await _chat(flavour, server, f"http://127.0.0.1:{host.port}/cat.png")
        assert len(host.requests) == 1
    assert _sent_image(server) == DATA_URI


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("1", True), ("true", True), (" YES ", True), ("0", False), ("", False), ("no", False)],
)
def test_the_environment_switch_reads_like_a_flag(
    monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv("WORKERSAI_ALLOW_PRIVATE_IMAGE_URLS", value)
    assert _url_guard.private_urls_allowed() is allowed


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_an_unresolvable_host_is_a_clear_fetch_error(
    server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def ano_such_host(*args: Any, **kwargs: Any) -> Any:
        no_such_host()

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    monkeypatch.setattr(_url_guard.anyio, "getaddrinfo", ano_such_host)
    url = "http://nowhere.example/cat.png"
    with pytest.raises(InvalidInputError) as info:
        await _chat(flavour, server, url)
    assert info.value.message == (
        f"Could not fetch image {url}: cannot resolve nowhere.example: "
        f"[Errno {socket.EAI_NONAME}] Name or service not known"
    )
    assert server.requests == []


# -- over TLS: the certificate is still checked against the hostname -----------------------


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    hosts: list[str]

    def do_GET(self) -> None:
        self.hosts.append(self.headers["host"])
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(PNG_1PX)))
        self.end_headers()
        self.wfile.write(PNG_1PX)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def tls_image_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[str], list[str]]]:
    """An HTTPS image server on 127.0.0.1 with a certificate for ``images.example`` only;
    the image client trusts its CA. Yields (port, Host headers, TLS server names)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("images.example").configure_cert(server_context)
    names: list[str] = []
    server_context.sni_callback = lambda sock, name, context: names.append(str(name))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    monkeypatch.setattr(_image_urls, "ssl_context", lambda: client_context)
    handler = type("Handler", (_ImageHandler,), {"hosts": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], handler.hosts, names
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_pinned_tls_connection_verifies_the_certificate_of_the_hostname(
    server: WorkersAIServer,
    dns: FakeDNS,
    loopback_images: None,
    tls_image_host: tuple[int, list[str], list[str]],
    flavour: str,
) -> None:
    port, hosts, server_names = tls_image_host
    dns.table["images.example"] = ["127.0.0.1"]
    server.enqueue(Reply.result({"response": "a pixel"}))
    await _chat(flavour, server, f"https://images.example:{port}/cat.png")
    assert server_names == ["images.example"]  # the certificate matched the hostname
    assert hosts == [f"images.example:{port}"]
    assert _sent_image(server) == DATA_URI
