"""An import's fetch: the host checked at every redirect hop, each connection pinned to the
addresses checked.

Unless private imports are allowed, a URL whose host resolves to a loopback, private,
link-local, multicast, reserved or unspecified address (IPv4 or IPv6, an IPv4 address inside an
IPv6 one too) is refused, so that ``files/import`` cannot reach what sits behind the server.
Redirects are followed here, a bounded number of them, each hop checked like the first. A host
is resolved once per hop, and the connection goes to the addresses that were checked (the
connector's resolver only hands those back), so a DNS answer that changes between the check and
the connection (DNS rebinding) changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves a host and port to addresses.
Resolve = Callable[[str, int], Awaitable[list[Address]]]
#: Why an address may not be fetched from, or None.
Policy = Callable[[Address], str | None]

#: Redirects followed before an import is given up.
MAX_REDIRECTS: Final = 5
#: Time limits of an import's fetch: to connect, and between two reads.
IMPORT_TIMEOUT: Final = aiohttp.ClientTimeout(sock_connect=30, sock_read=60)
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """The URL (or one it redirects to) may not, or cannot, be fetched; the message says why
    and never shows the URL's query."""


def shown_url(url: yarl.URL) -> str:
    """The URL without its query and credentials: a SAS token never shows up in a message."""
    return str(url.with_query(None).with_user(None).with_fragment(None))


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, 6to4, Teredo's client, or NAT64's."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden(address: Address) -> str | None:
    """Why an import may not fetch from ``address`` ("a loopback address", ...), or None when
    it is a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = forbidden(embedded)
        return None if reason is None else f"{reason} (inside {address})"
    for kind, is_kind in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
        ("a non-public", not address.is_global),
    ):
        if is_kind:
            return f"{kind} address"
    return None


async def resolve_host(host: str, port: int) -> list[Address]:
    """The addresses of ``host``, as the system resolves them.

    Raises:
        OSError: the host cannot be resolved.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: dict[Address, None] = {}
    for _, _, _, _, sockaddr in infos:
        found[ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])] = None
    return list(found)


async def check_hop(url: yarl.URL, *, resolve: Resolve, policy: Policy | None) -> list[Address]:
    """The addresses a hop to ``url`` may connect to: those of its host, once each is checked
    against ``policy`` (None allows any).

    Raises:
        Refused: the URL is not http(s), its host cannot be resolved, or resolves to an address
            the policy refuses.
    """
    if url.scheme not in ("http", "https") or not url.host:
        raise Refused(f"{shown_url(url)} is not an http or https URL with a host")
    try:
        # NOTE: an IP address is its own answer (aiohttp connects to it without resolving).
        addresses: list[Address] = [ipaddress.ip_address(url.host)]
    except ValueError:
        addresses = []
    try:
        addresses = addresses or await resolve(url.host, url.port or 0)
    except OSError as error:
        raise Refused(f"the host of {shown_url(url)} cannot be resolved ({error})") from None
    if not addresses:
        raise Refused(f"the host of {shown_url(url)} has no address")
    for address in addresses:
        reason = None if policy is None else policy(address)
        if reason is not None:
            raise Refused(
                f"the host of {shown_url(url)} resolves to {address}, {reason}: this server "
                "imports from public addresses only (start it with --allow-private-import to "
                "allow others)"
            )
    return addresses


class _Pinned(AbstractResolver):
    """A resolver that knows one host, and answers with the addresses already checked."""

    def __init__(self, host: str, addresses: list[Address]):
        self._host = host
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._host:
            raise OSError(f"no address was checked for {host}")
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self._addresses
            if family
            in (socket.AF_UNSPEC, socket.AF_INET6 if address.version == 6 else socket.AF_INET)
        ]

    async def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def fetch(
    url: yarl.URL,
    *,
    allow_private: bool,
    resolve: Resolve = resolve_host,
    policy: Policy = forbidden,
    max_redirects: int = MAX_REDIRECTS,
    limits: aiohttp.ClientTimeout = IMPORT_TIMEOUT,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """GETs ``url``, following redirects (each hop checked and pinned); yields the final
    response, whatever its status.

    Args:
        url: What to fetch.
        allow_private: Whether hosts may resolve to any address (else ``policy`` decides).
        resolve: Resolves a host (the system's resolver; tests pass their own).
        policy: Why an address may not be fetched from, or None.
        max_redirects: How many redirects are followed.
        limits: The fetch's time limits (to connect, and between two reads).

    Raises:
        Refused: a hop was refused, or there were too many redirects.
        aiohttp.ClientError: a connection failed.
    """
    for _ in range(max_redirects + 1):
        host = url.host or ""
        addresses = await check_hop(url, resolve=resolve, policy=None if allow_private else policy)
        connector = aiohttp.TCPConnector(resolver=_Pinned(host, addresses), use_dns_cache=False)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=limits) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or location is None:
                yield response
                return
            try:
                url = url.join(yarl.URL(location)).with_user(None).with_fragment(None)
            except ValueError:
                raise Refused(f"{shown_url(url)} redirects to a malformed URL") from None
    raise Refused(f"more than {max_redirects} redirects")
