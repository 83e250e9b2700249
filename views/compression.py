"""Responses compressed with brotli or gzip, as the browser's Accept-Encoding allows.

Pages, partials, JSON, CSS, JavaScript and SVG of at least MINIMUM_SIZE bytes are sent
compressed (`Content-Encoding`, `Vary: Accept-Encoding`, the length of the compressed body).
Never compressed: streamed bodies (the live seat map's server-sent events must reach the
browser event by event, and a compressor would hold them back), already-compressed types
(PDF, PNG, fonts), partial content, and bodies too small to gain from it.

Static files are compressed once per process at the best settings and kept in memory; pages
are compressed on every response with settings fast enough for each request (a trip page,
20 KB of HTML, takes about a millisecond).

An ETag names the bytes sent, so a compressed body's strong ETag becomes weak (`W/"…"`):
revalidation still gets 304, since If-None-Match compares weakly.
"""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import brotli
from quart import Response, request
from quart.wrappers.response import DataBody, FileBody

MINIMUM_SIZE = 1024
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/xml",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)
# (file, its size and mtime, encoding) -> compressed bytes, for static files
_static: dict[tuple[Path, int, float, str], bytes] = {}
# Static files above this size get a faster brotli setting (swagger-ui's 1.7 MB bundle:
# 2.7 s at quality 11, 50 ms at 5; each worker compresses it once).
LARGE_FILE = 512 * 1024


def chosen_encoding() -> str | None:
    """brotli when the browser takes it, else gzip, else none (`q=0` refuses one)."""
    accepted = request.accept_encodings
    for encoding in ("br", "gzip"):
        if accepted[encoding] > 0:
            return encoding
    return None


def compress(data: bytes, encoding: str, *, best: bool) -> bytes:
    if encoding == "br":
        quality = 11 if best and len(data) <= LARGE_FILE else 5
        return bytes(brotli.compress(data, mode=brotli.MODE_TEXT, quality=quality))
    return gzip.compress(data, compresslevel=9 if best else 6, mtime=0)


async def compressed_file(path: Path, encoding: str) -> bytes:
    stat = await asyncio.to_thread(path.stat)
    key = (path, stat.st_size, stat.st_mtime, encoding)
    found = _static.get(key)
    if found is None:
        data = await asyncio.to_thread(path.read_bytes)
        found = await asyncio.to_thread(compress, data, encoding, best=True)
        _static[key] = found
    return found


def _weaken_etag(response: Response) -> None:
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)


async def compress_response(response: Response) -> Response:
    if response.mimetype not in COMPRESSIBLE or "Content-Encoding" in response.headers:
        return response
    if response.status_code == 304:
        # The ETag of the 304 is the one of the body the browser holds: the compressed one.
        if chosen_encoding() is not None:
            _weaken_etag(response)
        return response
    if response.status_code < 200 or response.status_code in (204, 206):
        return response
    body = response.response
    if isinstance(body, FileBody):
        if body.begin != 0 or body.end != body.size or body.size < MINIMUM_SIZE:
            return response
    elif not isinstance(body, DataBody) or len(body.data) < MINIMUM_SIZE:
        return response  # streamed (server-sent events), or too small
    response.vary.add("Accept-Encoding")
    encoding = chosen_encoding()
    if encoding is None or request.method == "HEAD":
        return response
    if isinstance(body, FileBody):
        compressed = await compressed_file(body.file_path, encoding)
    else:
        compressed = compress(body.data, encoding, best=False)
    response.set_data(compressed)  # Content-Length follows
    response.headers["Content-Encoding"] = encoding
    _weaken_etag(response)
    return response
