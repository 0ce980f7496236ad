"""The ``@trace`` decorator: a span per call of a sync or async function.

The span becomes the current one while the function runs, so traced functions and OpenAI calls
inside it become its children. Arguments and the return value are kept by reference and
turned into text on the writer thread (``render.render_function``); an exception is recorded
and re-raised unchanged. The decorator's own failures never reach the function's caller.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from contextvars import Token
from typing import Any, TypeVar, overload

from goldenloop.sdk.context import Span, end_span, start_span
from goldenloop.sdk.recorder import get_recorder
from goldenloop.sdk.render import render_function

log = logging.getLogger("goldenloop.sdk")
F = TypeVar("F", bound=Callable[..., Any])


@overload
def trace(fn: F) -> F: ...
@overload
def trace(*, name: str | None = None, kind: str = "chain", capture: bool = True
          ) -> Callable[[F], F]: ...


def trace(fn: Any = None, *, name: str | None = None, kind: str = "chain",
          capture: bool = True) -> Any:
    """Trace each call of the function: ``@trace`` or ``@trace(name=..., kind="tool")``.

    ``capture=False`` keeps arguments and return value out of the span (secrets, large data).
    """
    def decorate(func: F) -> F:
        span_name = name or func.__name__
        if inspect.iscoroutinefunction(func):
            return functools.wraps(func)(_async(func, span_name, kind, capture))  # type: ignore[return-value]
        return functools.wraps(func)(_sync(func, span_name, kind, capture))  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def _sync(func: Callable[..., Any], name: str, kind: str, capture: bool) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        span, token = _enter(name, kind, args, kwargs, capture)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _exit(span, token, exc, None, capture)
            raise
        _exit(span, token, None, result, capture)
        return result

    return call


def _async(func: Callable[..., Any], name: str, kind: str, capture: bool) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        span, token = _enter(name, kind, args, kwargs, capture)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _exit(span, token, exc, None, capture)
            raise
        _exit(span, token, None, result, capture)
        return result

    return call


def _enter(name: str, kind: str, args: tuple, kwargs: dict[str, Any], capture: bool
           ) -> tuple[Span | None, Token | None]:
    try:
        span, token = start_span(name, kind, make_current=True)
        span.renderer = render_function
        if capture:
            span.data["args"], span.data["kwargs"] = args, kwargs
        return span, token
    except Exception:
        log.debug("goldenloop: cannot start a span", exc_info=True)
        return None, None


def _exit(span: Span | None, token: Token | None, exc: BaseException | None, result: Any,
          capture: bool) -> None:
    if span is None:
        return
    try:
        span.error = exc
        if exc is None:
            span.data["result"] = result if capture else None
        end_span(span, token)
        get_recorder().record(span)
    except Exception:
        log.debug("goldenloop: cannot record a span", exc_info=True)
