"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses.
Private, loopback, link-local, multicast and reserved addresses are refused when an
endpoint is registered and again when it is sent to (the name may resolve elsewhere by
then); the send then goes to the address that was checked, so a second lookup cannot
swap it. ``DAYLEDGER_WEBHOOK_ALLOW_PRIVATE=true`` lifts the rule."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from ..errors import Unprocessable

LOOKUP_SECONDS = 5.0


class Refused(Exception):
    """The URL may not be called; the message says why."""


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refused(f"'{url}' is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Refused(f"'{url}' is not an http or https URL with a host")
    return parsed


async def _lookup(host: str, port: int) -> list[str]:
    def work() -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
    try:
        return await asyncio.wait_for(asyncio.to_thread(work), LOOKUP_SECONDS)
    except (TimeoutError, OSError, UnicodeError) as exc:
        raise Refused(f"the host '{host}' does not resolve ({exc or 'timed out'})") from None


async def public_address(url: httpx.URL) -> str:
    """The address to connect to: the first of the host's addresses, all of which must be
    public (one private answer among public ones is refused too)."""
    host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = await _lookup(host, port)
    for address in addresses:
        if not _public(ipaddress.ip_address(address.split("%", 1)[0])):
            raise Refused(f"'{host}' resolves to {address}, a private, loopback or link-local address")
    return addresses[0]


async def check(url: str, allow_private: bool) -> None:
    """Registration: 422 when the URL is not one webhooks may be sent to."""
    try:
        parsed = parse(url)
        if not allow_private:
            await public_address(parsed)
    except Refused as exc:
        raise Unprocessable("webhook URL refused", str(exc)) from None


async def pinned(url: str, allow_private: bool) -> tuple[httpx.URL, dict[str, str], dict]:
    """Sending: the URL to request, extra headers and request extensions. Without
    ``allow_private`` the URL's host is replaced by its checked address, with the Host
    header and the TLS server name kept as the name (``Refused`` when not public)."""
    parsed = parse(url)
    if allow_private:
        return parsed, {}, {}
    address = await public_address(parsed)
    if address == parsed.host:
        return parsed, {}, {}
    host_header = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return parsed.copy_with(host=address), {"host": host_header}, extensions
