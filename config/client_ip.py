"""The client's address for django-axes (`AXES_CLIENT_IP_CALLABLE`), which counts failed logins
per username and address: behind CLIENT_IP_PROXY_COUNT trusted proxies (`AXES_PROXY_COUNT`),
the address the outermost of them saw, from X-Forwarded-For; else REMOTE_ADDR.

Each proxy appends the address it was reached from, so with N proxies the N-th entry from the
right is the client's; entries further left are whatever the client sent, and are not read.
Without this every client behind the proxy had the proxy's address, and anyone could lock any
user out by failing their password a few times. (Hand-written rather than django-ipware, which
axes would otherwise use: these lines are the whole of what is needed here.)
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    proxies = getattr(settings, "CLIENT_IP_PROXY_COUNT", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")
