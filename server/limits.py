"""Request bodies the server will read: at most a size cap (413), within a time limit (408), uncompressed (400).

The size is checked before a body is read into memory; the time limit stops a client that sends headers
and then a body that never (fully) arrives from holding a connection and a request task for ever.
"""
import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmviz.server.errors import error_response


class BodyRefused(HTTPException):
    """Raised from `receive` while the app reads the body; an HTTPException, so FastAPI's body parsing
    re-raises it untouched and the error handler answers with its status and message."""


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes; send only the model, prompt and sampling options"


def too_slow_message(seconds: float) -> str:
    return f"the request body did not arrive within {seconds:g} s; send the whole body at once"


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 10.0):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(413, too_large_message(self.max_bytes))(scope, receive, send)
            return
        encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        if encoding != "identity":
            message = f"the request body is sent with Content-Encoding: {encoding}; send the JSON uncompressed"
            await error_response(400, message)(scope, receive, send)
            return
        received = 0
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        body_complete = False

        async def counted_receive() -> Message:
            nonlocal received, body_complete
            if body_complete:  # afterwards the response waits here for a disconnect, as long as it streams
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                raise BodyRefused(408, too_slow_message(self.timeout_seconds)) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise BodyRefused(413, too_large_message(self.max_bytes))
            else:
                body_complete = True
            return message

        await self.app(scope, counted_receive, send)
