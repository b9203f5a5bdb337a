"""What the server shows to whom: the Host header check and the security headers on every response.

- `HostCheck`: a page on another site can make a browser talk to a server on this machine by pointing
  its own domain name at 127.0.0.1 (DNS rebinding); the browser then sends that name as Host. Only
  loopback names and the configured ones (`--allowed-host`) are answered; the rest get a 400.
- `SecurityHeaders`: no MIME sniffing, no framing, and a Content-Security-Policy; the page sets its own
  policy (with a nonce for its import map, see routers/pages.py), everything else gets one that allows
  nothing, since JSON and scripts are never documents.
"""
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmviz.server.errors import error_response
from llmviz.server.settings import Settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def page_policy(nonce: str) -> str:
    """The page's own policy: its files from this server, its one inline script (the import map) by nonce.

    style-src allows inline styles because three.js and the page set element.style for labels and overlays.
    """
    return "; ".join([
        "default-src 'self'", f"script-src 'self' 'nonce-{nonce}'", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
        "form-action 'self'", "frame-ancestors 'none'",
    ])


def host_name(host_header: str) -> str:
    """`[::1]:8000` -> `[::1]`, `localhost:8000` -> `localhost`, `::1` -> `::1`."""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class HostCheck:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self.settings.host_allowed(host_name(host)):
                message = (f"this server does not answer to the host name {host_name(host)!r}; open it by a loopback "
                           f"name (localhost, 127.0.0.1) or start it with --allowed-host NAME")
                await error_response(400, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
