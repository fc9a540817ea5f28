"""The link between the bot's process and a front end's own process
(:mod:`bot.link`): calls answered in order, failures carried across, and
nothing left hanging when the other side goes.

Both ends run here on event loops of their own, over a real socket pair, as
the two processes do."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.link import Link, LinkClosed, RemoteError, frame, receive_one
from storage import StoreError


class End:
    """One end of a link on an event loop in a thread of its own."""

    def __init__(self, sock: socket.socket, link: Link) -> None:
        self.link = link
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(link.open(sock), self.loop).result(5)

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(5)

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def close() -> None:
            self.link.close()
            await asyncio.sleep(0.05)  # the transport closes the socket on a later turn

        self.run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def _parent_answers(method: str, args: tuple[Any, ...]) -> Any:
    if method == "add":
        return sum(args)
    if method == "later":

        async def later() -> str:
            await asyncio.sleep(0.01)
            return f"later {args[0]}"

        return later()
    if method == "store":
        raise StoreError("The store could not save the change.")
    if method == "unpicklable":
        return threading.Lock()
    raise ValueError(f"no {method!r}")


@pytest.fixture
def ends() -> Iterator[tuple[End, End, list[tuple[str, tuple[Any, ...]]]]]:
    ours, theirs = socket.socketpair()
    notes: list[tuple[str, tuple[Any, ...]]] = []
    parent = End(ours, Link(_parent_answers, lambda kind, args: notes.append((kind, args))))
    child = End(theirs, Link())
    yield parent, child, notes
    child.close()
    parent.close()


def test_a_call_is_answered_with_its_result(ends) -> None:  # type: ignore[no-untyped-def]
    _, child, _ = ends
    assert child.run(child.link.call("add", 2, 3)) == 5
    assert child.run(child.link.call("later", "x")) == "later x"


def test_many_calls_in_flight_each_get_their_own_answer(ends) -> None:  # type: ignore[no-untyped-def]
    _, child, _ = ends

    async def many() -> list[Any]:
        return await asyncio.gather(*(child.link.call("add", n, 1000) for n in range(200)))

    assert child.run(many()) == [n + 1000 for n in range(200)]


def test_the_other_sides_failure_is_raised_here_as_itself(ends) -> None:  # type: ignore[no-untyped-def]
    _, child, _ = ends
    with pytest.raises(StoreError, match="could not save"):
        child.run(child.link.call("store"))
    with pytest.raises(ValueError, match="no 'nothing'"):
        child.run(child.link.call("nothing"))


def test_an_answer_that_cannot_be_sent_becomes_a_remote_error(ends) -> None:  # type: ignore[no-untyped-def]
    _, child, _ = ends
    with pytest.raises(RemoteError, match="lock"):
        child.run(child.link.call("unpicklable"))
    assert child.run(child.link.call("add", 1, 1)) == 2  # and the link carries on


def test_notes_from_another_thread_arrive_in_order(ends) -> None:  # type: ignore[no-untyped-def]
    _, child, notes = ends
    for n in range(50):
        child.link.note_from_thread("state", {"n": n})
    assert child.run(child.link.call("add", 0)) == 0  # after the notes, on the same link
    assert [args[0]["n"] for kind, args in notes] == list(range(50))


def test_calls_in_flight_fail_when_the_other_side_goes(ends) -> None:  # type: ignore[no-untyped-def]
    parent, child, _ = ends
    waiting = asyncio.run_coroutine_threadsafe(child.link.call("later", "x"), child.loop)
    parent.close()
    with pytest.raises((LinkClosed, ConnectionError)):
        waiting.result(5)
        child.run(child.link.call("add", 1))  # if the answer won the race, the next call fails
    with pytest.raises(LinkClosed):
        child.link.call_from_thread("add", 1, timeout=5)


def test_the_hello_is_read_alone_and_the_rest_stays_for_the_link() -> None:
    ours, theirs = socket.socketpair()
    ours.sendall(frame(("hello", {"a": 1}, ["help"])) + frame(("note", "stop", ())))
    assert receive_one(theirs) == ("hello", {"a": 1}, ["help"])
    notes: list[str] = []
    end = End(theirs, Link(on_note=lambda kind, args: notes.append(kind)))
    try:
        for _ in range(100):
            if notes:
                break
            threading.Event().wait(0.01)
        assert notes == ["stop"]
    finally:
        end.close()
        ours.close()
