"""Where webhooks may go: SSRF protection for hub listener callbacks.

A callback must be an ``http``/``https`` URL without userinfo whose host resolves only to
public addresses. Checked twice:

* at registration (:func:`check_callback`), so a bad URL is refused with a 422 naming
  ``callback``;
* at every delivery, by the connection itself (:class:`GuardedTransport`): the worker's
  HTTP client resolves the host once, refuses the connection unless EVERY resolved address
  is allowed, and then connects to exactly those validated addresses — there is no second
  DNS lookup between the check and the connect, so DNS rebinding cannot slip a private
  address in. The request keeps the original ``Host`` header, and TLS keeps SNI and
  certificate verification for the original host name (httpcore does the TLS handshake
  on the stream we return, with ``server_hostname`` = the URL's host).

Refused (always): unspecified (``0.0.0.0``, ``::``), "this network" ``0/8``, link-local
(``169.254/16`` — cloud metadata — and ``fe80::/10``), multicast, broadcast, reserved and
every other non-global range (documentation, benchmarking, Teredo …). Refused unless
``OPENBSS_WEBHOOK_ALLOW_PRIVATE=true``: loopback, RFC 1918, CGNAT ``100.64/10`` and unique
local ``fc00::/7``. IPv4 embedded in IPv6 (``::ffff:a.b.c.d``, 6to4, NAT64) is judged by
its IPv4 address. Integer, hex, octal and short IPv4 spellings (``2130706433``,
``0x7f.1``, ``0177.0.0.1``, ``127.1``) are normalised first, as ``inet_aton`` reads them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from openbss.core.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What a delivery attempt to a refused target records: nothing about what the target
# answered, how fast, or which address it was (eventDeliveries must not be a port scanner).
REFUSED_MESSAGE = "refused: callback resolves to a private address"

_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"[1-9][0-9]*|0")


class RefusedAddress(Exception):
    """A callback host resolved to an address webhooks may not reach."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` the way ``inet_aton`` does: 1 to 4 dot-separated parts, each decimal,
    ``0x`` hex or ``0`` octal, the last part filling the remaining bytes (``127.1``,
    ``0x7f000001``, ``2130706433``). ``None`` when it is not such a number."""
    text = host[:-1] if host.endswith(".") else host
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        if not part:
            return None
        if _HEX.fullmatch(part):
            number = int(part[2:] or "0", 16)
        elif _OCTAL.fullmatch(part):
            number = int(part, 8)
        elif _DECIMAL.fullmatch(part):
            number = int(part)
        else:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str:
    """``"public"``, ``"private"`` (loopback, RFC 1918, CGNAT, unique local: allowed only
    with ``OPENBSS_WEBHOOK_ALLOW_PRIVATE``) or ``"forbidden"`` (never allowed)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "forbidden"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return classify(embedded)
    if ip.is_unspecified or ip.is_link_local or ip.is_multicast:
        return "forbidden"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK:
        return "forbidden"
    if ip.is_loopback or any(ip in net for net in _PRIVATE_NETWORKS
                             if net.version == ip.version):
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "forbidden"
    return "public"


def allowed(ip: IPAddress, *, allow_private: bool) -> bool:
    kind = classify(ip)
    return kind == "public" or (kind == "private" and allow_private)


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal (in any IPv4 spelling) stands for."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return parse_ipv4(bare)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for (one DNS lookup; literals are not looked up).
    Raises ``OSError`` when the name does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(raw)
        if address not in found:
            found.append(address)
    if not found:
        raise OSError(f"{host} has no address")
    return found


def validated_addresses(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, or raise :class:`RefusedAddress`
    if ANY of them may not be reached (a name with one public and one private address is
    refused: the connection could go to either)."""
    addresses = resolve(host, port)
    if not all(allowed(ip, allow_private=allow_private) for ip in addresses):
        raise RefusedAddress(REFUSED_MESSAGE)
    return addresses


def parse_http_url(url: str, *, userinfo_hint: str = "") -> httpx.URL:
    """``url`` parsed as an ``http``/``https`` URL with a host and no userinfo, or a
    ValueError saying what is wrong with it (control characters, another scheme...);
    ``userinfo_hint`` is added to the userinfo refusal (where credentials go instead)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ValueError("not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if parsed.userinfo:
        raise ValueError(f"must not contain a user name or password{userinfo_hint}")
    if not parsed.host:
        raise ValueError("has no host")
    if "%" in parsed.host and literal_address(parsed.host) is None:
        raise ValueError("the host must not be percent-encoded")
    return parsed


def http_url(url: str) -> str:
    """A Pydantic after-validator: ``url`` if :func:`parse_http_url` accepts it."""
    parse_http_url(url)
    return url


def check_callback(url: str, *, allow_private: bool, field: str = "callback") -> None:
    """Refuse (422 naming ``field``) a callback URL webhooks may not call."""
    try:
        parsed = parse_http_url(
            url, userinfo_hint=" (use the listener secret to authenticate deliveries)")
    except ValueError as exc:
        raise ValidationError(f"{field}: {exc}", field=field) from None
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        validated_addresses(host, port, allow_private=allow_private)
    except RefusedAddress:
        raise ValidationError(
            f"{field}: must not point to a loopback, private, link-local, multicast or "
            "reserved address (OPENBSS_WEBHOOK_ALLOW_PRIVATE=true allows loopback and "
            "private networks)", field=field) from None
    except (OSError, UnicodeError, ValueError):
        raise ValidationError(f"{field}: the host {host!r} does not resolve",
                              field=field) from None


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that connects only to validated addresses."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = validated_addresses(host, port, allow_private=self.allow_private)
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError("the callback host does not resolve") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                # The validated address itself: no second lookup that DNS could answer
                # differently. TLS is started later on this stream by httpcore with
                # server_hostname = the original host (SNI and certificate check).
                return self._backend.connect_tcp(str(address), port, timeout=timeout,
                                                 local_address=local_address,
                                                 socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        raise RefusedAddress(REFUSED_MESSAGE)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every new connection goes through :class:`GuardedBackend`
    (no proxies from the environment, no Unix sockets)."""

    def __init__(self, *, allow_private: bool, verify: ssl.SSLContext | bool = True,
                 limits: httpx.Limits | None = None) -> None:
        super().__init__(verify=verify, trust_env=False)
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


def guarded_client(*, allow_private: bool, timeout: float,
                   verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """The HTTP client webhooks are delivered with: guarded connections, no redirects
    followed, no proxy or netrc settings taken from the environment."""
    return httpx.Client(transport=GuardedTransport(allow_private=allow_private, verify=verify),
                        timeout=timeout, follow_redirects=False, trust_env=False)
