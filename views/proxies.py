"""ASGI middleware that applies `TRUSTED_PROXIES` (domain/proxies.py) before Quart sees
the request: the client address, scheme and Host the trusted proxies forwarded replace the
connection's own, so `request.remote_addr`, `request.scheme` and `request.host` (the login
limits, the audit trail, the Origin check, HSTS) describe the browser, not the proxy.
Forwarded headers from anyone else are left alone and never read."""

from __future__ import annotations

from typing import Any

from domain.proxies import ProxyTrust, resolve

ASGIApp = Any


class TrustedProxies:
    def __init__(self, app: ASGIApp, trust: ProxyTrust) -> None:
        self.app = app
        self.trust = trust

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.trust.enabled and scope.get("type") in ("http", "websocket"):
            scope = self.rewrite(scope)
        await self.app(scope, receive, send)

    def rewrite(self, scope: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[bytes, list[str]] = {
            b"x-forwarded-for": [],
            b"x-forwarded-proto": [],
            b"x-forwarded-host": [],
        }
        for name, value in scope.get("headers", ()):
            values = wanted.get(name.lower())
            if values is not None:
                values.append(value.decode("latin-1"))
        peer = (scope.get("client") or (None,))[0]
        forwarded = resolve(
            self.trust,
            peer,
            wanted[b"x-forwarded-for"],
            wanted[b"x-forwarded-proto"],
            wanted[b"x-forwarded-host"],
        )
        if forwarded == type(forwarded)():
            return scope
        scope = dict(scope)
        if forwarded.client is not None:
            port = (scope.get("client") or (None, 0))[1]
            scope["client"] = (forwarded.client, port)
        if forwarded.scheme is not None:
            secure = forwarded.scheme == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = forwarded.scheme
        if forwarded.host is not None:
            host = forwarded.host.encode("latin-1")
            scope["headers"] = [
                (name, value) for name, value in scope.get("headers", ()) if name.lower() != b"host"
            ] + [(b"host", host)]
        return scope
