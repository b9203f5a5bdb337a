"""Every error the API answers, streamed or not, has one shape: {"type": "error", "status", "message"}.

The message is one line a person can act on; FastAPI's default handlers (nested `detail` lists,
tracebacks on 500) are replaced so no client ever has to parse anything else.
"""
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger("llmviz.server")


def error_body(status: int, message: str) -> dict:
    return {"type": "error", "status": status, "message": message}


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "the request body"


def _describe(error: dict) -> str:
    if tuple(error["loc"]) == ("body",) and error["type"] in ("model_attributes_type", "dict_type"):
        return "the request body must be a JSON object (sent with Content-Type: application/json)"
    if error["type"] == "missing":
        return f"{_field(error['loc'])} is required"
    if error["type"] == "extra_forbidden":
        return f"{_field(error['loc'])} is not a known field"
    message = f"{_field(error['loc'])}: {error['msg']}"
    if "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {json.dumps(error['input'], default=str)})"
    return message


def validation_message(errors) -> tuple[int, str]:
    """(status, one-line message) for a request FastAPI could not parse or validate."""
    for error in errors:
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "it could not be parsed")
            return 400, f"the request body is not valid JSON: {reason}"
    return 422, "; ".join(_describe(e) for e in errors)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    status, message = validation_message(exc.errors())
    return error_response(status, message)


GZIP_MAGIC = b"\x1f\x8b"


def unreadable_body_message(cause: BaseException | None) -> str | None:
    """What to change, for a body FastAPI could not even hand to the JSON parser (its own message is generic)."""
    if isinstance(cause, UnicodeDecodeError):
        if bytes(cause.object[:2]) == GZIP_MAGIC:
            return "the request body looks gzip-compressed; send the JSON uncompressed"
        return (f"the request body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} at position {cause.start}); "
                f"send JSON text encoded as UTF-8")
    if isinstance(cause, RecursionError):
        return ("the request body's JSON is nested deeper than the parser allows; "
                "send one flat object of the model, prompt and options")
    return None


async def _on_http_exception(request: Request, exc: HTTPException) -> JSONResponse:
    message = unreadable_body_message(exc.__cause__) if exc.status_code == 400 else None
    return error_response(exc.status_code, message or str(exc.detail), headers=getattr(exc, "headers", None))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, f"the server failed on this request ({type(exc).__name__}); the log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
