"""ASGI entry point that serves sync views with one thread hop per request.

Django's ``ASGIHandler`` runs the middleware stack in async mode: every sync-only hook of
every middleware (``process_request``, ``process_view``, ``process_response``), the two
request signals and the view each cross into the request's worker thread and back, a
dozen hops or more per request. ``LoomASGIHandler`` reads the body and writes the response
on the event loop like Django does, and runs everything between (``request_started``, the
middleware loaded in sync mode, the view, ``request_finished``) as one synchronous call in
one ``sync_to_async(thread_sensitive=True)`` hop: the WSGI request pipeline, served by an
ASGI server. Requests whose view is a coroutine function take Django's async path
unchanged, so async views keep their cancellation on client disconnect.

Django's handler also starts (and joins) a new thread for every request, which costs more
than the view on a busy machine. The sync path runs on a fixed set of long-lived threads
instead, ``threads`` per process: at most that many sync requests run at once, the rest
wait on the event loop for a free thread (as requests wait for a gunicorn sync worker).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, get_resolver, set_script_prefix
from django.urls.exceptions import Resolver404

__all__ = ["LoomASGIHandler", "get_asgi_application"]

# ThreadSensitiveContext(executor=...) is recent asgiref; older ones get Django's thread
# per request (still one hop, still at most ``threads`` at once).
_LONG_LIVED = "executor" in inspect.signature(ThreadSensitiveContext.__init__).parameters

Scope = dict[str, Any]
Receive = Any
Send = Any


class LoomASGIHandler(ASGIHandler):
    """Django's ASGI handler with the sync request pipeline run in a single thread hop."""

    def __init__(self, *, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        super().__init__()
        self._sync = BaseHandler()
        self._sync.load_middleware(is_async=False)
        self.threads = threads
        self._resolver: URLResolver | None = None
        self._any_async = True
        self._lanes: asyncio.Queue[ThreadPoolExecutor] | None = None

    @asynccontextmanager
    async def lane(self) -> AsyncIterator[None]:
        """A thread-sensitive context on one of the long-lived threads, for one request."""
        if self._lanes is None:
            lanes: asyncio.Queue[ThreadPoolExecutor] = asyncio.Queue()
            for index in range(self.threads):
                lanes.put_nowait(ThreadPoolExecutor(1, thread_name_prefix=f"loom-asgi-{index}"))
            self._lanes = lanes
        executor = await self._lanes.get()
        try:
            context = ThreadSensitiveContext(executor=executor) if _LONG_LIVED else None
            async with context or ThreadSensitiveContext():
                yield
        finally:
            self._lanes.put_nowait(executor)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve HTTP; sync views on the long-lived threads, the rest as Django does."""
        if scope["type"] != "http" or self.view_is_async(scope):
            await super().__call__(scope, receive, send)
            return
        await self.handle_sync(scope, receive, send)

    async def handle_sync(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request whose view is sync: one thread hop for all of it.

        The thread is taken once the body has arrived and given back before a complete
        response is sent, so slow clients do not hold it. A streaming response keeps it
        until it is closed: its iterator may still use the request's connection.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            async with self.lane():
                response = await sync_to_async(self.respond, thread_sensitive=True)(
                    scope, body_file
                )
                if response.streaming:
                    try:
                        await self.send_response(response, send)
                    finally:
                        await sync_to_async(response.close, thread_sensitive=True)()
                    return
            await self.send_response(response, send)
        finally:
            body_file.close()

    def respond(self, scope: Scope, body_file: Any) -> HttpResponseBase:
        """The whole sync request cycle: signals, middleware and view, in this thread.

        A non-streaming response is closed here, before it is sent: its body is already in
        memory, and closing fires ``request_finished``, which hands the request's database
        connections back (to the pool) without waiting for the client to read the bytes.
        """
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.sync_response(request)
        assert response is not None
        if not response.streaming:
            response.close()
        return response

    def sync_response(self, request: HttpRequest) -> HttpResponseBase:
        """``request`` through the middleware loaded in sync mode, as under WSGI."""
        response = self._sync.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        return response

    def view_is_async(self, scope: Scope) -> bool:
        """Whether the URL resolves to a coroutine view (unknown URLs are served sync).

        URLs are resolved only when the URLconf has a coroutine view at all; middleware
        that sets ``request.urlconf`` is not consulted.
        """
        resolver = get_resolver()
        if resolver is not self._resolver:
            self._resolver, self._any_async = resolver, _has_async_view(resolver)
        if not self._any_async:
            return False
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        try:
            match = resolver.resolve(path)
        except Resolver404:
            return False
        return iscoroutinefunction(match.func)


def _has_async_view(resolver: URLResolver) -> bool:
    """Whether any view below ``resolver`` is a coroutine function."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if _has_async_view(pattern):
                return True
        elif iscoroutinefunction(pattern.callback):
            return True
    return False


def get_asgi_application(*, threads: int = 1) -> LoomASGIHandler:
    """Set Django up and return :class:`LoomASGIHandler` (``config/asgi.py``'s application).

    The loom counterpart of ``django.core.asgi.get_asgi_application``; ``threads`` is how
    many sync requests one process serves at once.
    """
    django.setup(set_prefix=False)
    return LoomASGIHandler(threads=threads)
