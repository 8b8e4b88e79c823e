"""An import's fetch: which addresses it refuses, and the check at every redirect hop, with a
fake resolver in front of real local origins."""

from __future__ import annotations

import http.server
import ipaddress
import threading
import urllib.parse
from collections.abc import Iterator

import pytest
import yarl

from aikit_files.server._fetch import Address, Refused, check_hop, fetch, forbidden


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ],
)
def test_forbidden_addresses(address: str, kind: str) -> None:
    reason = forbidden(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address)) is None


class Origin:
    """A local HTTP server: ``/data`` answers, ``/redirect?to=URL`` redirects, ``/loop``
    redirects to itself; it records the paths asked for."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                path, _, query = self.path.partition("?")
                if path == "/data":
                    self.send_response(200)
                    self.send_header("Content-Length", "5")
                    self.end_headers()
                    self.wfile.write(b"hello")
                    return
                target = urllib.parse.parse_qs(query).get("to", ["/loop"])[0]
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def origin() -> Iterator[Origin]:
    running = Origin()
    yield running
    running.close()


class FakeDNS:
    """Resolves made-up names to given addresses, and counts the questions."""

    def __init__(self, table: dict[str, list[str]]):
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[Address]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"unknown host {host}")
        answer = self.table[host]
        # A rebinding resolver: the first answer, then the next one each time it is asked.
        address = answer[min(self.asked.count(host), len(answer)) - 1]
        return [ipaddress.ip_address(address)]


def only_127_0_0_2(address: Address) -> str | None:
    """A policy for tests: 127.0.0.2 stands for a private address, 127.0.0.1 for a public one."""
    return "a test-private address" if str(address) == "127.0.0.2" else None


async def body_of(url: str, dns: FakeDNS, allow_private: bool = False) -> bytes:
    async with fetch(
        yarl.URL(url), allow_private=allow_private, resolve=dns, policy=only_127_0_0_2
    ) as response:
        assert response.status == 200
        return await response.read()


@pytest.mark.anyio
async def test_redirects_are_followed_each_hop_checked(origin: Origin) -> None:
    dns = FakeDNS({"public.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    final = f"http://other.test:{origin.port}/data"
    url = f"http://public.test:{origin.port}/redirect?to={urllib.parse.quote(final)}"
    assert await body_of(url, dns) == b"hello"
    assert dns.asked == ["public.test", "other.test"]
    assert origin.seen[-1] == "/data"


@pytest.mark.anyio
async def test_a_redirect_to_a_private_host_is_refused(origin: Origin) -> None:
    dns = FakeDNS({"public.test": ["127.0.0.1"], "inner.test": ["127.0.0.2"]})
    inner = f"http://inner.test:{origin.port}/data?sig=secret"
    url = f"http://public.test:{origin.port}/redirect?to={urllib.parse.quote(inner)}"
    with pytest.raises(Refused) as refused:
        await body_of(url, dns)
    message = str(refused.value)
    assert f"http://inner.test:{origin.port}/data resolves to 127.0.0.2" in message
    assert "secret" not in message
    assert len(origin.seen) == 1  # the redirect, never its target
    assert origin.seen[0].startswith("/redirect?")
    # With private imports allowed, the same redirect is followed.
    dns = FakeDNS({"public.test": ["127.0.0.1"], "inner.test": ["127.0.0.1"]})
    assert await body_of(url, dns, allow_private=True) == b"hello"


@pytest.mark.anyio
async def test_a_redirect_to_a_private_literal_is_refused(origin: Origin) -> None:
    dns = FakeDNS({"public.test": ["127.0.0.1"]})
    url = f"http://public.test:{origin.port}/redirect?to=http://127.0.0.2:{origin.port}/data"
    with pytest.raises(Refused, match=r"resolves to 127\.0\.0\.2"):
        await body_of(url, dns)


@pytest.mark.anyio
async def test_the_connection_goes_to_the_address_checked(origin: Origin) -> None:
    # The second answer for the same name would be private: the name is resolved once for the
    # hop, and the connection is pinned to that answer.
    dns = FakeDNS({"rebind.test": ["127.0.0.1", "127.0.0.2"]})
    assert await body_of(f"http://rebind.test:{origin.port}/data", dns) == b"hello"
    assert dns.asked == ["rebind.test"]


@pytest.mark.anyio
async def test_redirects_are_bounded(origin: Origin) -> None:
    dns = FakeDNS({"public.test": ["127.0.0.1"]})
    with pytest.raises(Refused, match="more than 5 redirects"):
        await body_of(f"http://public.test:{origin.port}/loop", dns)
    assert len(origin.seen) == 6


@pytest.mark.anyio
@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://[::1"])
async def test_a_redirect_elsewhere_than_http_is_refused(origin: Origin, target: str) -> None:
    dns = FakeDNS({"public.test": ["127.0.0.1"]})
    url = f"http://public.test:{origin.port}/redirect?to={urllib.parse.quote(target)}"
    with pytest.raises(Refused):
        await body_of(url, dns)


@pytest.mark.anyio
async def test_an_unknown_host_is_refused() -> None:
    with pytest.raises(Refused, match="cannot be resolved"):
        await check_hop(yarl.URL("http://nowhere.test/"), resolve=FakeDNS({}), policy=forbidden)
