"""Reading a request body within bounds, however it is framed, for the receiver.

A body comes with a ``Content-Length`` or as ``Transfer-Encoding: chunked``; either way no more
than the limit is ever read into memory, and a compressed body is never inflated past it
(gzip bombs). A length that is missing, negative or not a number is refused before anything
is read: read "until the end" it would be unbounded. Refused bodies are discarded from the
socket (``linger``) rather than left unread, since closing a socket with unread data makes
the kernel send a reset, and the client would see that instead of our answer.
"""

from __future__ import annotations

import socket
import time
import zlib
from typing import BinaryIO

from goldenloop.collector.decode import GRPC_RESOURCE_EXHAUSTED, BadRequest

_CHUNK_LINE = 1024  # a chunk-size line with extensions; anything longer is not HTTP
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 << 20


def framing(headers: object, limit: int) -> int | None:
    """The body's length from the headers, or None for a chunked body; raises ``BadRequest``
    for a length that is missing, malformed or over ``limit`` (413)."""
    encoding = (headers.get("Transfer-Encoding") or "").strip().lower()  # type: ignore[attr-defined]
    if encoding:
        # With both headers the transfer coding wins (RFC 9112 §6.3): a Content-Length of -1
        # beside a chunked body must not mean "read until the end".
        if encoding != "chunked":
            raise BadRequest(501, f"unsupported Transfer-Encoding {encoding!r}: use chunked")
        return None
    length = headers.get("Content-Length")  # type: ignore[attr-defined]
    if length is None:
        raise BadRequest(411, "a Content-Length header (or a chunked body) is required")
    text = length.strip()
    if not text.isdigit():  # rejects "-1", "+5", "1e3", "": int() would take some of them
        raise BadRequest(400, f"bad Content-Length {length!r}")
    n = int(text)
    if n > limit:
        raise BadRequest(413, f"body of {n:,} bytes exceeds the limit of {limit:,}",
                         GRPC_RESOURCE_EXHAUSTED)
    return n


def read_body(rfile: BinaryIO, length: int | None, limit: int) -> bytes:
    """The body's bytes: ``length`` of them, or the chunks of a chunked body up to ``limit``
    (413 past it, with the rest left unread for ``linger``)."""
    if length is not None:
        raw = rfile.read(length)
        if len(raw) < length:
            raise BadRequest(400, f"body ended after {len(raw):,} of {length:,} bytes")
        return raw
    parts: list[bytes] = []
    size = 0
    while True:
        line = rfile.readline(_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise BadRequest(400, "a chunked body ended early or has a malformed chunk line")
        try:
            n = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest(400, f"bad chunk size {line[:40]!r}") from None
        if n < 0:
            raise BadRequest(400, f"bad chunk size {line[:40]!r}")
        if n == 0:
            _skip_trailers(rfile)
            return b"".join(parts)
        size += n
        if size > limit:
            raise BadRequest(413, f"chunked body exceeds the limit of {limit:,} bytes",
                             GRPC_RESOURCE_EXHAUSTED)
        data = rfile.read(n)
        if len(data) < n or rfile.readline(_CHUNK_LINE).strip():
            raise BadRequest(400, "a chunked body ended early or a chunk has the wrong size")
        parts.append(data)


def _skip_trailers(rfile: BinaryIO) -> None:
    for _ in range(100):
        line = rfile.readline(_CHUNK_LINE)
        if line in (b"\r\n", b"\n", b""):
            return
    raise BadRequest(400, "too many trailer lines after a chunked body")


def check_encoding(encoding: str | None) -> str:
    enc = (encoding or "identity").strip().lower()
    if enc not in ("identity", "gzip", "deflate"):
        raise BadRequest(415, f"unsupported Content-Encoding {enc!r}: use gzip or deflate")
    return enc


def decompress(raw: bytes, encoding: str | None, limit: int) -> bytes:
    enc = check_encoding(encoding)
    if enc == "identity":
        return raw
    d = zlib.decompressobj(wbits=31 if enc == "gzip" else 15)
    try:
        out = d.decompress(raw, limit + 1)  # never inflate past the limit (gzip bombs)
    except zlib.error as exc:
        raise BadRequest(400, f"the body is not valid {enc}: {exc}") from exc
    if len(out) > limit:
        raise BadRequest(413, f"decompressed body exceeds the limit of {limit:,} bytes",
                         GRPC_RESOURCE_EXHAUSTED)
    return out


def linger(connection: socket.socket, rfile: BinaryIO) -> None:
    """After answering a request whose body was not read: say we are done sending, then read
    and drop what the client still sends, for a bounded time and size, so it can read the
    answer; then the caller closes."""
    try:
        connection.shutdown(socket.SHUT_WR)
    except OSError:
        return
    deadline, left = time.monotonic() + LINGER_SECONDS, LINGER_BYTES
    try:
        while left > 0:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return
            connection.settimeout(min(wait, 0.5))
            got = rfile.read1(1 << 16) if hasattr(rfile, "read1") else rfile.read(1 << 16)
            if not got:
                return
            left -= len(got)
    except OSError:  # a timeout, or the client reset: either way we are done
        return
