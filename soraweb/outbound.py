"""Where the site may send requests of its own: provider base URLs (and their redirects), outbound webhooks.

Staff type these URLs, so without a policy a URL could make our workers call the cloud's metadata service or
anything else on our own network (SSRF). The rule: https only, to public addresses. `allow_private` (the
OUTBOUND_ALLOW_PRIVATE setting, on for `make run` and the tests, which talk to sorasim on 127.0.0.1) also allows
loopback, private, unique-local and other non-public unicast addresses, and plain http; metadata, link-local,
multicast, unspecified and reserved addresses are refused even then.

Checked twice: when a URL is saved (`check_url`, which resolves the name), and at every connection on the address
actually connected to (`guard`), so a name that answers a public address at the check and a private one at the
connection (DNS rebinding) is still refused, and so is a redirect to such a place.

No Django here: the provider client imports it (its contract). soraweb.validators holds the model field validator.
"""

from __future__ import annotations

import ipaddress
import socket

import httpcore
import httpx

# Cloud metadata services: refused even with allow_private, whatever range they are in (AWS's IPv6 one is
# unique-local, Alibaba's is in the shared 100.64/10). 169.254.169.254 is AWS, GCP, Azure and Oracle's.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
# "this network": Linux connects 0.0.0.0 to the local host
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
ALLOW_HINT = "; OUTBOUND_ALLOW_PRIVATE allows loopback and private addresses and plain http (local servers only)"


class Refused(httpx.TransportError):
    """The URL, or the address it leads to, is not one the site may call: nothing was sent. An httpx transport
    error, so code that handles httpx's errors sees it; callers that care tell it apart by its class."""


def refusal(address, *, allow_private=False):
    """Why the IP address may not be connected to (e.g. "a loopback address"), or None when it may."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) names no other host
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified or (ip.version == 4 and ip in THIS_NETWORK):
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_loopback:
        kind = "a loopback address"
    elif ip.is_reserved:  # after loopback: Python counts ::1 as reserved too
        return "a reserved address"
    elif ip.version == 6 and ip in UNIQUE_LOCAL:
        kind = "a unique-local address"
    elif ip.is_private:
        kind = "a private address"
    elif not ip.is_global:
        kind = "a non-public address"  # shared (100.64/10), documentation, benchmarking ranges
    else:
        return None
    return None if allow_private else kind


def check_address(address, host, *, allow_private=False):
    reason = refusal(address, allow_private=allow_private)
    if reason:
        hint = ALLOW_HINT if refusal(address, allow_private=True) is None else ""
        shown = host if host == str(address) else f"{host} ({address})"
        raise Refused(f"the outbound-URL policy refuses {shown}: {reason}{hint}")


def check_url(url, *, allow_private=False, resolve=True):
    """Refuse (Refused) a URL that is not https (http too with allow_private), has no host, or names or, with
    `resolve`, resolves to an address `refusal` refuses; any one such address refuses it. A name that does not
    resolve now passes: nothing can be sent to it, and the connection checks the address it has then."""
    try:
        url = httpx.URL(str(url))
    except httpx.InvalidURL as exc:
        raise Refused(f"not a valid URL: {exc}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if url.scheme not in schemes:
        hint = ALLOW_HINT if url.scheme == "http" else ""
        raise Refused(f"the outbound-URL policy allows only https URLs, not {url.scheme or 'no scheme'}{hint}")
    host = url.raw_host.decode("ascii")
    if not host:
        raise Refused("the URL has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not resolve:
            return
        try:
            addresses = resolve_host(host, url.port or (443 if url.scheme == "https" else 80))
        except OSError:
            return
    else:
        addresses = [host]
    for address in addresses:
        check_address(address, host, allow_private=allow_private)


def resolve_host(host, port):
    """Every address the name has now (socket.getaddrinfo), in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, resolving the name itself: it refuses the connection when any address of the
    name is refused, connects to a checked address (never resolving again), and checks the socket's peer. TLS is
    then started by httpcore with the URL's host name, so SNI, certificate checks and the Host header stay the
    name's."""

    def __init__(self, *, allow_private=False, backend=None):
        self.allow_private = allow_private
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = resolve_host(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        for address in addresses:
            check_address(address, host, allow_private=self.allow_private)
        error = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._backend.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            try:
                check_address(stream.get_extra_info("server_addr")[0], host, allow_private=self.allow_private)
            except Refused:
                stream.close()
                raise
            return stream
        raise error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise Refused("the outbound-URL policy refuses unix sockets")

    def sleep(self, seconds):
        self._backend.sleep(seconds)


class GuardedTransport(httpx.BaseTransport):
    """A transport that sends only where the policy allows. Every request (a redirect's too: it is a request of
    its own) is checked for its scheme and a literal address; a name is checked on each new connection, by the
    GuardedBackend put into the wrapped HTTPTransport's pool. A transport that opens no sockets of its own (e.g.
    httpx.MockTransport in tests) gets the request checks only."""

    def __init__(self, transport=None, *, allow_private=False):
        self.allow_private = allow_private
        self._transport = transport if transport is not None else httpx.HTTPTransport()
        if isinstance(self._transport, httpx.HTTPTransport):
            pool = self._transport._pool
            if type(pool) is not httpcore.ConnectionPool:
                raise ValueError("the outbound-URL guard needs a transport that connects directly (no proxy)")
            # httpx has no argument for httpcore's network backend: the fresh pool it built takes ours
            pool._network_backend = GuardedBackend(allow_private=allow_private, backend=pool._network_backend)

    def handle_request(self, request):
        check_url(request.url, allow_private=self.allow_private, resolve=False)
        return self._transport.handle_request(request)

    def close(self):
        self._transport.close()


def guard(transport=None, *, allow_private=False):
    """`transport` (a fresh httpx.HTTPTransport, or None for a default one) wrapped so that it sends only where
    the policy allows; a refused request raises Refused before a byte is sent."""
    if isinstance(transport, GuardedTransport):
        return transport
    return GuardedTransport(transport, allow_private=allow_private)
