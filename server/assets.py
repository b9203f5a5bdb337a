"""Static files sent gzip-compressed and revalidated by content hash, so a cold visit costs ~0.5 MB, not ~2.5 MB.

Starlette's StaticFiles finds the file (and refuses paths outside its folder); this subclass adds, per file:
- a strong ETag from a hash of the content (not of mtime and size, which differ between two installs of
  the same wheel and between workers' checkouts), with `Cache-Control: no-cache`: a browser keeps the file
  and asks once per visit whether it changed, and an upgraded llmviz is never mixed with a cached old module;
- a gzip body, compressed once per file (in a worker thread, on its first request) and kept in memory:
  the files are few (the page's modules and the three.js files it imports; ~0.5 MB compressed in all).
`CompressReads` gzips the other GET answers (model lists, weights); the NDJSON streams (POSTs) are never compressed.
"""
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".json", ".svg", ".txt", ".map"}
MIN_COMPRESS_BYTES = 1024  # below this, the gzip header and a round of CPU buy nothing
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Prepared:
    """What a file's responses need, valid while the file keeps its mtime and size."""
    mtime_ns: int
    size: int
    etag: str
    gzipped: bytes | None  # None when compressing would not pay


def prepare(path: Path, stat: os.stat_result) -> Prepared:
    content = path.read_bytes()
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    gzipped = None
    if path.suffix in COMPRESSIBLE and len(content) >= MIN_COMPRESS_BYTES:
        packed = gzip.compress(content, compresslevel=9, mtime=0)
        gzipped = packed if len(packed) < len(content) else None
    return Prepared(stat.st_mtime_ns, stat.st_size, etag, gzipped)


def accepts_gzip(headers: Headers) -> bool:
    for coding in headers.get("accept-encoding", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class CompressedStaticFiles(StaticFiles):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepared: dict[str, Prepared] = {}

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """Runs in a worker thread (Starlette's choice), so hashing and compressing here never stall the loop."""
        full_path, stat = super().lookup_path(path)
        if stat is not None and os.path.isfile(full_path):
            self._entry(full_path, stat)
        return full_path, stat

    def _entry(self, full_path: str, stat: os.stat_result) -> Prepared:
        entry = self._prepared.get(full_path)
        if entry is None or (entry.mtime_ns, entry.size) != (stat.st_mtime_ns, stat.st_size):
            entry = self._prepared[full_path] = prepare(Path(full_path), stat)
        return entry

    def file_response(self, full_path, stat_result: os.stat_result, scope: Scope, status_code: int = 200) -> Response:
        request = Headers(scope=scope)
        entry = self._entry(str(full_path), stat_result)
        headers = {"ETag": entry.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result, headers=headers)
        if self.is_not_modified(response.headers, request):
            return NotModifiedResponse(response.headers)
        if entry.gzipped is None or not accepts_gzip(request) or "range" in request:
            return response
        return Response(entry.gzipped, status_code=status_code, media_type=response.media_type,
                        headers={**headers, "Content-Encoding": "gzip", "Last-Modified": response.headers["last-modified"]})


class CompressReads:
    """GET answers (the page, model lists, weights: ~0.46 MB of base64 JSON for nano-sort at f32, ~0.25 MB
    gzipped) compressed by Starlette's GZipMiddleware. The NDJSON streams are POSTs and never pass through it,
    so each of their lines still leaves the moment it is made; static files arrive already compressed above
    (GZipMiddleware leaves a response that has a Content-Encoding alone).
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MIN_COMPRESS_BYTES, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # accepts_gzip, not GZipMiddleware's substring test, which would compress for "gzip;q=0"
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and accepts_gzip(Headers(scope=scope)):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
