"""Calls and notes between the bot's process and a front end running in a
process of its own, over a socket pair the parent made for that child.

A message is a pickled tuple after its 4-byte length:

- ``("call", id, method, args)``: answered by ``("done", id, ok, value)``,
  where ``value`` is the result or, when ``ok`` is false, the exception;
- ``("note", kind, args)``: nothing comes back.

Pickle is safe here only because nobody else can write to the socket: it is
an unnamed socket pair, inherited by the one child the bot started, never a
path on disk or a port. Replies, inputs and the configuration are plain
dataclasses, and pickling them is much cheaper than any text format.

Each side's end lives on an event loop (:class:`Link` is an asyncio
protocol). On uvloop, reading and writing the socket never lets go of the
interpreter lock, so a busy process does not make every message wait for
it twice, as a thread blocked in ``recv`` does. Either side may call the
other (:meth:`Link.call`); other threads go through the loop
(:meth:`Link.call_from_thread`, :meth:`Link.note_from_thread`). When the
other side goes away, every call in flight fails with :class:`LinkClosed`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import pickle
import socket
import struct
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")
MAX_MESSAGE = 64 * 1024 * 1024  # an upload is at most 1 MB; a bad length is a bug
PROTOCOL = pickle.HIGHEST_PROTOCOL

CallHandler = Callable[[str, tuple[Any, ...]], Any]  # a value, or an awaitable of one
NoteHandler = Callable[[str, tuple[Any, ...]], None]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """libuv's loop (uvloop), which takes less CPU per message than asyncio's
    own, for the links and the platform clients; asyncio's where uvloop is
    not available."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LinkClosed(ConnectionError):
    """The process at the other end has gone (or the link was closed)."""


class RemoteError(Exception):
    """The other side failed with an exception that could not be sent as is."""


def frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def receive_one(sock: socket.socket) -> tuple[Any, ...] | None:
    """One message read from a blocking socket (the child's first, the
    ``hello``), leaving whatever follows it in the socket for the link."""
    head = _read_exactly(sock, _LENGTH.size)
    if head is None:
        return None
    data = _read_exactly(sock, _LENGTH.unpack(head)[0])
    return None if data is None else pickle.loads(data)  # our own parent: see above


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class Link(asyncio.Protocol):
    def __init__(
        self,
        on_call: CallHandler | None = None,
        on_note: NoteHandler | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        """``on_call(method, args)`` returns the answer (or an awaitable of
        it); ``on_note(kind, args)`` returns nothing. Both run on the loop.
        ``on_lost()`` runs once when the other side has gone."""
        self.on_call = on_call
        self.on_note = on_note
        self.on_lost = on_lost
        self.loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()

    async def open(self, sock: socket.socket) -> None:
        """Start reading and writing ``sock`` on the running loop."""
        self.loop = asyncio.get_running_loop()
        await self.loop.create_connection(lambda: self, sock=sock)

    # ------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > MAX_MESSAGE:
                log.error("a message of %s bytes: the link is out of step; closing it", length)
                self.close()
                return
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                return
            message = pickle.loads(self._buffer[_LENGTH.size : end])  # see the docstring
            del self._buffer[:end]
            self._dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkClosed("the other process has gone"))
        self._pending.clear()
        self.closed.set()
        if self.on_lost is not None:
            self.on_lost()

    # ------------------------------------------------------------ sending
    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def send(self, message: tuple[Any, ...]) -> None:
        """On the loop: queue one message for the other side."""
        if not self.is_open:
            raise LinkClosed("the link is closed")
        assert self._transport is not None
        self._transport.write(frame(message))

    def note(self, kind: str, *args: Any) -> None:
        self.send(("note", kind, args))

    async def call(self, method: str, *args: Any) -> Any:
        assert self.loop is not None
        call_id = next(self._ids)
        future = self.loop.create_future()
        self._pending[call_id] = future
        try:
            self.send(("call", call_id, method, args))
        except BaseException:
            self._pending.pop(call_id, None)
            raise
        return await future

    # ---------------------------------------------------- other threads
    def call_from_thread(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """From a thread that is not the loop's: call, and wait for the answer."""
        loop = self.loop
        if loop is None or loop.is_closed() or not self.is_open:
            raise LinkClosed("the link is closed")
        future = asyncio.run_coroutine_threadsafe(self.call(method, *args), loop)
        return future.result(timeout)

    def note_from_thread(self, kind: str, *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            raise LinkClosed("the link is closed")

        def send() -> None:
            if self.is_open:
                self.note(kind, *args)

        loop.call_soon_threadsafe(send)

    # ------------------------------------------------------------ reading
    def _dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done":
            _, call_id, ok, value = message
            future = self._pending.pop(call_id, None)
            if future is not None and not future.done():
                if ok:
                    future.set_result(value)
                else:
                    error = value if isinstance(value, BaseException) else RemoteError(value)
                    future.set_exception(error)
        elif kind == "call":
            _, call_id, method, args = message
            self._answer_call(call_id, method, args)
        elif kind == "note" and self.on_note is not None:
            _, what, args = message
            try:
                self.on_note(what, args)
            except Exception:
                log.exception("handling the note %r failed", what)

    def _answer_call(self, call_id: int, method: str, args: tuple[Any, ...]) -> None:
        if self.on_call is None:
            self._answer(call_id, False, RemoteError(f"nothing answers {method!r} here"))
            return
        try:
            result = self.on_call(method, args)
        except Exception as exc:
            self._answer(call_id, False, exc)
            return
        if not inspect.isawaitable(result):
            self._answer(call_id, True, result)
            return

        async def later() -> None:
            try:
                value = await result
            except Exception as exc:
                self._answer(call_id, False, exc)
            else:
                self._answer(call_id, True, value)

        task = asyncio.ensure_future(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _answer(self, call_id: int, ok: bool, value: Any) -> None:
        try:
            self.send(("done", call_id, ok, value))
        except LinkClosed:
            pass  # the caller has gone: nobody to tell
        except Exception as exc:  # the value would not pickle: say what it was
            problem = value if not ok else exc
            self.send(("done", call_id, False, RemoteError(_describe(problem))))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _describe(error: object) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
