"""Who is asking: the visitor's IP address, as far as it can be trusted.

On Fly the socket's peer is Fly's proxy, and the proxy names the visitor in `Fly-Client-IP`.
Anywhere else that header is whatever the client chose to send, so it is read only when
TRUST_FLY_PROXY says Fly's proxy is in front (settings.py derives it from the variables Fly sets
on its machines). Whatever is returned is a valid IP address in its normalised text form, or "":
the value is stored in a 45-character column and counted by the sign-in limits.
"""

import ipaddress

from django.conf import settings

# An IPv6 visitor usually holds a whole /64 (SLAAC, privacy addresses): counting single
# addresses would let one household or one server rotate through 2**64 of them.
IPV6_PREFIX = 64


def client_address(request) -> str:
    """The visitor's IP address: Fly-Client-IP behind Fly's proxy, else the socket's peer."""
    if settings.TRUST_FLY_PROXY:
        # Fly's proxy sets the header itself. A comma means two values were joined: a client's
        # own copy that something passed along first, then the proxy's (gunicorn joins repeated
        # headers in the order they arrived; proxies append). Only the last one is the proxy's.
        forwarded = request.headers.get("Fly-Client-IP", "").rsplit(",", 1)[-1]
        if address := normalised(forwarded):
            return address
    return normalised(request.META.get("REMOTE_ADDR", ""))


def normalised(text: str) -> str:
    """`text` as a canonical IP address ("2001:db8::1", "203.0.113.9"), or "" if it is not one."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return ""
    if address.version == 6:
        if address.scope_id is not None:
            # "fe80::1%<anything>" parses, and the zone may be any length; a visitor's address
            # never has one.
            return ""
        if address.ipv4_mapped:
            address = address.ipv4_mapped
    return str(address)


def client_network(address: str) -> str:
    """What the sign-in limits count for `address`: "203.0.113.9/32", "2001:db8:1:2::/64"."""
    if not address:
        return ""
    prefix = IPV6_PREFIX if ipaddress.ip_address(address).version == 6 else 32
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
