"""Tracing of an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client, on the caller's thread.

``wrap_openai(client)`` replaces ``chat.completions.create``/``parse`` and ``responses.create``
on that client object (and on copies made by ``with_options``) with wrappers that start a span,
keep references to the request and to what came back, and hand the span to the recorder. A
streamed call returns a proxy that notes the time of the first token and records the span when
the stream ends, is closed, or is dropped unread. The wrappers never raise anything the client
would not have raised: their own failures are logged and the call goes on untraced.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from goldenloop.sdk.context import Span, end_span, start_span
from goldenloop.sdk.recorder import get_recorder

log = logging.getLogger("goldenloop.sdk")
_MARK = "__goldenloop_traced__"


def wrap_openai(client: Any) -> Any:
    """Trace the calls of ``client``; returns the same client object."""
    try:
        is_async = type(client).__name__.startswith("Async")
        chat = client.chat.completions
        _patch(chat, "create", "chat", render_chat, _chat_chunk, is_async)
        _patch(chat, "parse", "chat", render_chat, _chat_chunk, is_async)
        _patch(client.responses, "create", "responses", render_responses, _responses_event,
               is_async)
        _patch_copies(client)
    except Exception:
        log.warning("goldenloop: cannot trace this client", exc_info=True)
    return client


def _patch(resource: Any, attr: str, op: str, renderer: Any, on_chunk: Any,
           is_async: bool) -> None:
    original = getattr(resource, attr, None)
    if original is None or getattr(original, _MARK, False):
        return
    make = _async_call if is_async else _sync_call
    wrapped = make(original, op, renderer, on_chunk)
    setattr(wrapped, _MARK, True)
    setattr(resource, attr, wrapped)  # an instance attribute: only this client is traced


def _patch_copies(client: Any) -> None:
    original = client.copy
    if getattr(original, _MARK, False):
        return

    def copy(*args: Any, **kwargs: Any) -> Any:
        return wrap_openai(original(*args, **kwargs))

    setattr(copy, _MARK, True)
    client.copy = client.with_options = copy


def _sync_call(original: Any, op: str, renderer: Any, on_chunk: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        span = _start(op, renderer, kwargs)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            _end(span, exc)
            raise
        if span is not None and kwargs.get("stream"):
            return _guard(lambda: TracedStream(result, span, on_chunk), span, result)
        _end(span, None, result)
        return result

    return call


def _async_call(original: Any, op: str, renderer: Any, on_chunk: Any) -> Any:
    async def call(*args: Any, **kwargs: Any) -> Any:
        span = _start(op, renderer, kwargs)
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            _end(span, exc)
            raise
        if span is not None and kwargs.get("stream"):
            return _guard(lambda: AsyncTracedStream(result, span, on_chunk), span, result)
        _end(span, None, result)
        return result

    return call


def _start(op: str, renderer: Any, kwargs: dict[str, Any]) -> Span | None:
    try:
        span, _ = start_span(f"{op} {kwargs.get('model', '')}".strip(), "llm", make_current=False)
        req = dict(kwargs)
        # Callers often append to their message list after the call: keep it as it was sent.
        for key in ("messages", "input"):
            if isinstance(req.get(key), list):
                req[key] = list(req[key])
        span.data["request"] = req
        span.renderer = renderer
        return span
    except Exception:
        log.debug("goldenloop: cannot start a span", exc_info=True)
        return None


def _end(span: Span | None, exc: BaseException | None, response: Any = None) -> None:
    if span is None:
        return
    try:
        span.error = exc
        if response is not None:
            span.data["response"] = response
        end_span(span, None)
        get_recorder().record(span)
    except Exception:
        log.debug("goldenloop: cannot record a span", exc_info=True)


def _guard(make: Any, span: Span, result: Any) -> Any:
    try:
        return make()
    except Exception:
        log.debug("goldenloop: cannot trace a stream", exc_info=True)
        _end(span, None)
        return result


def render_chat(span: Span, row: dict[str, Any]) -> None:
    # Imported on the writer thread: the message mapping lives in ingest, which loads DuckDB.
    from goldenloop.sdk import openai_render

    openai_render.render_chat(span, row)


def render_responses(span: Span, row: dict[str, Any]) -> None:
    from goldenloop.sdk import openai_render

    openai_render.render_responses(span, row)


# -- streams ------------------------------------------------------------------------------------
def _chat_chunk(span: Span, chunk: Any) -> None:
    if span.ttft_ms is None:
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            if delta is not None and (delta.content or delta.tool_calls
                                      or getattr(delta, "refusal", None)):
                span.mark_first_token()
                break


def _responses_event(span: Span, event: Any) -> None:
    kind = getattr(event, "type", "")
    if span.ttft_ms is None and kind.endswith(".delta"):
        span.mark_first_token()
    elif kind in ("response.completed", "response.incomplete", "response.failed"):
        span.data["response"] = getattr(event, "response", None)


class _StreamSpan:
    """What the sync and async proxies share: the chunks, the first token, the one finish."""

    def __init__(self, stream: Any, span: Span, on_chunk: Any) -> None:
        self._stream, self._span, self._on_chunk = stream, span, on_chunk
        self._chunks: list[Any] = []
        span.data["chunks"] = self._chunks
        self._finished = False

    def _seen(self, chunk: Any) -> None:
        try:
            self._chunks.append(chunk)
            self._on_chunk(self._span, chunk)
        except Exception:
            log.debug("goldenloop: cannot read a chunk", exc_info=True)

    def _finish(self, exc: BaseException | None = None, *, complete: bool = False) -> None:
        if self._finished:
            return
        self._finished = True
        if not complete and exc is None:
            self._span.data["abandoned"] = True
        _end(self._span, exc)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # ours, not yet set (a half-built proxy being collected)
            raise AttributeError(name)
        return getattr(self._stream, name)

    def __del__(self) -> None:  # dropped without reading to the end or closing
        with contextlib.suppress(Exception):
            self._finish()


class TracedStream(_StreamSpan):
    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self._stream.__next__()
        except StopIteration:
            self._finish(complete=True)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._seen(chunk)
        return chunk

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish()

    def __enter__(self) -> TracedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTracedStream(_StreamSpan):
    def __aiter__(self) -> AsyncTracedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            self._finish(complete=True)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._seen(chunk)
        return chunk

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._finish()

    async def __aenter__(self) -> AsyncTracedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
