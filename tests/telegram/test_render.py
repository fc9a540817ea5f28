"""Replies as Telegram messages: escaping, splitting, keyboards, 64 bytes;
and flood control, timed."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import RetryAfter

from bot.telegram import render
from bot.telegram.adapter import parse_command, to_input
from bot.telegram.frontend import api_urls
from bot.telegram.limits import FloodControl
from handlers.replies import Button, Command, Reply, Span, Text, Tick, b, code, line

from .conftest import plain_text


def test_every_span_is_escaped_and_styles_become_tags() -> None:
    reply = Reply((line("Suspend ", b("<b>x</b> & <script>"), "? ", code("a&b")),))
    [message] = render.render(reply)
    assert message.text == (
        "Suspend <b>&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;</b>? <code>a&amp;b</code>"
    )
    assert plain_text(message.text, "HTML") == "Suspend <b>x</b> & <script>? a&b"
    assert message.markup is None


def test_quotes_stay_as_typed() -> None:
    assert render.escape('O\'Brien "Jr"') == 'O\'Brien "Jr"'


def test_a_long_reply_is_split_at_line_boundaries_with_the_keyboard_last() -> None:
    lines = tuple(line(f"{i:04d} ", b("Ænne <Ørsted>"), " & co " + "x" * 60) for i in range(200))
    reply = Reply(lines, (Button("Next", "tok1", "nav"),))
    messages = render.render(reply)
    assert len(messages) > 1
    for message in messages:
        assert render.size(message.text) <= render.MAX_TEXT
        plain_text(message.text, "HTML")  # each one is well-formed
    assert [m.markup is not None for m in messages] == [False] * (len(messages) - 1) + [True]
    shown = "\n".join(plain_text(m.text, "HTML") for m in messages).split("\n")
    assert shown == ["".join(s.text for s in ln) for ln in lines]  # nothing lost, in order


def test_a_single_line_longer_than_a_message_is_cut_into_well_formed_pieces() -> None:
    reply = Reply((line("a " * 3000, b("&" * 3000), code("é😀" * 1500)),))
    messages = render.render(reply)
    assert len(messages) >= 3
    shown = ""
    for message in messages:
        assert render.size(message.text) <= render.MAX_TEXT
        shown += plain_text(message.text, "HTML")
    assert shown == "a " * 3000 + "&" * 3000 + "é😀" * 1500


def test_keyboard_rows_ticks_choices_and_actions() -> None:
    reply = Reply(
        (line("Which sites?"),),
        (
            Button("Done", "t3", "confirm"),
            Button("Cancel", "t4", "cancel"),
        ),
        (Tick("Primary", "t1", True), Tick("Forums", "t2", False)),
    )
    [message] = render.render(reply)
    rows = [[(k.text, k.callback_data) for k in row] for row in message.markup.inline_keyboard]
    assert rows == [
        [("✅ Primary", "t1")],
        [("⬜ Forums", "t2")],
        [("Done", "t3"), ("Cancel", "t4")],
    ]
    menu = Reply(
        (line("Pick"),),
        (
            Button("Amira Haddad <amira.haddad@demo.school>", "a"),
            Button("Ben Okafor <ben.okafor@demo.school>", "b"),
            Button("Previous", "p", "nav"),
            Button("Next", "n", "nav"),
            Button("Cancel", "c", "cancel"),
        ),
    )
    [message] = render.render(menu)
    assert [[k.text for k in row] for row in message.markup.inline_keyboard] == [
        ["Amira Haddad <amira.haddad@demo.school>"],
        ["Ben Okafor <ben.okafor@demo.school>"],
        ["Previous", "Next"],
        ["Cancel"],
    ]


def test_callback_data_is_checked_against_64_bytes_of_utf8() -> None:
    assert render.callback_data("c" * 64) == "c" * 64
    with pytest.raises(ValueError, match="64"):
        render.callback_data("я" * 33)  # 66 bytes, 33 characters
    with pytest.raises(ValueError):
        render.render(Reply((line("x"),), (Button("Delete Зоя 😀", "😀" * 17),)))


def test_an_empty_reply_sends_nothing_and_buttons_alone_get_a_word() -> None:
    assert render.render(Reply(())) == []
    [message] = render.render(Reply((), (Button("OK", "t"),)))
    assert message.text.strip() and message.markup is not None


def test_commands_are_read_as_telegram_sends_them() -> None:
    assert parse_command("/suspend@HubTestBot  jane@school.org ") == ("suspend", "jane@school.org")
    assert parse_command("/Import\nname,email\nA,a@b.org") == ("import", "name,email\nA,a@b.org")
    assert parse_command("not a command") is None
    assert to_input("cancel", "") == Text("cancel")
    assert to_input("start", "payload") == Command("help")
    assert to_input("show", "x@y.org") == Command("show", "x@y.org")


def test_the_api_base_url_is_honoured() -> None:
    assert api_urls("http://localhost:8081/") == (
        "http://localhost:8081/bot",
        "http://localhost:8081/file/bot",
    )
    assert api_urls("https://api.telegram.org/bot") == (
        "https://api.telegram.org/bot",
        "https://api.telegram.org/file/bot",
    )


# ------------------------------------------------------------ flood control
def _run(  # type: ignore[no-untyped-def]
    flood: FloodControl,
    plan: list[str],
    fail_first: set[str] = frozenset(),  # type: ignore[assignment]
    endpoint: str = "sendMessage",
):
    """Send one request per chat id in ``plan``; when each was let through."""

    async def main() -> dict[str, list[float]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        times: dict[str, list[float]] = {}
        failed: set[str] = set()

        async def call(chat: str) -> bool:
            if chat in fail_first and chat not in failed:
                failed.add(chat)
                raise RetryAfter(1)
            times.setdefault(chat, []).append(loop.time() - start)
            return True

        await asyncio.gather(
            *(
                flood.process_request(call, (chat,), {}, endpoint, {"chat_id": chat}, None)
                for chat in plan
            )
        )
        return times

    return asyncio.run(main())


@pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")
def test_each_chat_has_its_own_pace() -> None:
    flood = FloodControl(overall=(100, 1.0), per_chat=(2, 0.5))  # 4 a second, bursts of 2
    times = _run(flood, ["busy"] * 6 + ["quiet"] * 2)
    assert times["busy"][-1] >= 0.9  # 2 at once, then one every 0.25 s
    assert times["quiet"][-1] < 0.2  # not held up by the busy chat


@pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")
def test_a_retry_after_pauses_only_its_chat() -> None:
    flood = FloodControl(overall=(100, 1.0), per_chat=(10, 1.0))
    times = _run(flood, ["limited", "other", "other"], fail_first={"limited"})
    assert times["limited"] == [pytest.approx(1.1, abs=0.25)]
    assert times["other"][-1] < 0.2


@pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")
def test_retry_after_gives_up_after_the_retries() -> None:
    flood = FloodControl(max_retries=0)
    with pytest.raises(RetryAfter):
        _run(flood, ["x"], fail_first={"x"})


def test_edits_do_not_wait_for_the_chats_pace() -> None:
    flood = FloodControl(overall=(100, 1.0), per_chat=(1, 1.0))  # one new message a second
    times = _run(flood, ["busy"] * 4, endpoint="editMessageReplyMarkup")
    assert times["busy"][-1] < 0.2
    sent = _run(FloodControl(overall=(100, 1.0), per_chat=(1, 1.0)), ["busy"] * 3)
    assert sent["busy"][-1] >= 1.9  # new messages still keep the pace


def test_edits_count_towards_the_overall_limit() -> None:
    flood = FloodControl(overall=(5, 0.5), per_chat=(100, 1.0))
    times = _run(flood, [str(n) for n in range(15)], endpoint="editMessageText")
    assert max(t for v in times.values() for t in v) >= 0.9


@pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")
def test_a_retry_after_for_an_edit_is_waited_out() -> None:
    flood = FloodControl(overall=(100, 1.0), per_chat=(10, 1.0))
    times = _run(flood, ["limited"], fail_first={"limited"}, endpoint="editMessageText")
    assert times["limited"] == [pytest.approx(1.1, abs=0.25)]


def test_the_overall_limit_holds_across_chats() -> None:
    flood = FloodControl(overall=(5, 0.5), per_chat=(100, 1.0))  # 10 a second overall
    times = _run(flood, [str(n) for n in range(15)])
    assert max(t for v in times.values() for t in v) >= 0.9


def test_spans_render_one_by_one() -> None:
    assert render.span_html(Span("a<b", "code")) == "<code>a&lt;b</code>"
