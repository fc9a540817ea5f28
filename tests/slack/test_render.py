"""Replies as Block Kit, and Slack's markup read back as typed text."""

from __future__ import annotations

import re

from bot.slack import inbound
from bot.slack.dedupe import delivery_key
from bot.slack.render import (
    MAX_BLOCKS,
    SECTION_LIMIT,
    answered,
    escape,
    render,
    sections,
    span_mrkdwn,
)
from handlers.replies import Button, Command, Reply, Span, Text, Tick, b, code, line


def test_escape_keeps_user_text_from_mentioning_linking_or_formatting() -> None:
    assert escape("<!channel> & <@U123> <https://x.example|y>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://x.example|y&gt;"
    )
    assert escape("&lt;") == "&amp;lt;"
    shown = escape("*bold* _it_ ~gone~ `code`")
    assert not set("*~`") & set(shown) and "_" not in shown
    assert escape("jane_doe@school.org") == "jane_doe@school.org"  # nothing to format


def test_spans_bold_and_code() -> None:
    assert span_mrkdwn(b("Jane <j@x.org>")) == "*Jane &lt;j@x.org&gt;*"
    assert span_mrkdwn(Span(" padded ", "bold")) == " *padded* "
    assert span_mrkdwn(Span("", "bold")) == ""
    assert span_mrkdwn(code("a`b")) == "`a\u02cbb`"
    assert span_mrkdwn(b("two\nlines")) == "*two*\n*lines*"


def test_buttons_rows_labels_and_styles() -> None:
    buttons = tuple(Button(f"Person {n} " + "x" * 100, f"t{n}") for n in range(60))
    buttons += (Button("Go", "ok", "confirm"), Button("Delete", "del", "danger"))
    message = render(Reply((line("Pick"),), buttons))
    rows = [blk for blk in message.blocks if blk["type"] == "actions"]
    assert [len(r["elements"]) for r in rows] == [25, 25, 12]
    elements = [e for r in rows for e in r["elements"]]
    assert len({e["action_id"] for e in elements}) == 62
    assert all(len(e["text"]["text"]) <= 75 for e in elements)
    assert [e["value"] for e in elements][-2:] == ["ok", "del"]
    assert elements[-2]["style"] == "primary" and elements[-1]["style"] == "danger"
    assert "style" not in elements[0]


def test_tick_boxes_are_checkboxes_ten_a_group() -> None:
    ticks = tuple(Tick(f"Site {n}", f"k{n}", n in (1, 11)) for n in range(12))
    message = render(Reply((line("Which?"),), (Button("Done", "d", "confirm"),), ticks))
    group = message.blocks[1]
    assert group["block_id"] == "hub_ticks"
    first, second = group["elements"]
    assert (len(first["options"]), len(second["options"])) == (10, 2)
    assert first["initial_options"] == [
        {"text": {"type": "plain_text", "text": "Site 1"}, "value": "k1"}
    ]
    assert second["initial_options"][0]["value"] == "k11"
    assert message.blocks[2]["elements"][0]["value"] == "d"


def test_long_replies_are_split_into_sections_within_slacks_limits() -> None:
    lines = tuple(line(f"{n:04d} " + "word " * 20) for n in range(400))
    message = render(Reply(lines, (Button("OK", "t"),)))
    texts = [blk["text"]["text"] for blk in message.blocks if blk["type"] == "section"]
    assert len(texts) > 1 and all(len(t) <= SECTION_LIMIT for t in texts)
    assert "".join(texts).count("word") == 400 * 20  # nothing lost
    assert len(message.blocks) <= MAX_BLOCKS
    huge = render(Reply(tuple(line("y " * 1400) for _ in range(200))))
    assert len(huge.blocks) == MAX_BLOCKS
    assert "shortened" in huge.blocks[-1]["elements"][0]["text"]
    assert len(huge.text) <= 3000


def test_a_cut_never_splits_an_entity() -> None:
    pieces = sections(escape("&" * 2000), 3000)
    assert all(re.fullmatch(r"(&amp;)+", p) for p in pieces)
    assert sum(p.count("&amp;") for p in pieces) == 2000


def test_an_answered_message_keeps_its_text_and_loses_its_buttons() -> None:
    message = render(Reply((line("Suspend ", b("Jane"), "?"),), (Button("Suspend", "t"),)))
    after = answered(message.blocks, "Suspend <now>")
    assert [blk["type"] for blk in after] == ["section", "context"]
    assert after[-1]["elements"][0]["text"] == "\u2713 Suspend &lt;now&gt;"


def test_slack_markup_is_read_back_as_typed() -> None:
    assert inbound.typed_text("<@UBOT> show <mailto:j@x.org|j@x.org>") == "show j@x.org"
    assert inbound.typed_text("find &lt;b&gt; &amp; co") == "find <b> & co"
    assert inbound.typed_text("<https://x.example|label> <https://y.example>") == (
        "label https://y.example"
    )
    assert inbound.typed_text("<!channel> hi") == "@channel hi"
    assert inbound.typed_text("a, b\nc, d") == "a, b\nc, d"  # pasted lines stay lines
    assert inbound.command("") == Command("help")
    assert inbound.command("<@UBOT>  Suspend   <mailto:j@x.org|j@x.org>") == Command(
        "suspend", "j@x.org"
    )
    assert inbound.command("cancel") == Text("cancel")


def test_tick_changes_compare_the_client_state_with_the_message() -> None:
    message = render(
        Reply(
            (line("Which?"),),
            (Button("Done", "d"),),
            (Tick("A", "ka", True), Tick("B", "kb", False), Tick("C", "kc", False)),
        )
    )
    payload = {
        "message": {"blocks": message.blocks},
        "state": {
            "values": {
                "hub_ticks": {
                    "hub_ticks_0": {"selected_options": [{"value": "kb"}, {"value": "kc"}]}
                }
            }
        },
    }
    assert inbound.tick_changes(payload) == [("A", "ka"), ("B", "kb"), ("C", "kc")]
    assert inbound.tick_changes({"message": {"blocks": message.blocks}}) == []


def test_delivery_keys() -> None:
    assert delivery_key({"event_id": "Ev1", "event": {}}) == "event:Ev1"
    press = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_ts": "1.5"}]}
    assert delivery_key(press) == "action:U1:1.5"
    assert delivery_key({"command": "/hub", "trigger_id": "t.1"}) == "trigger:t.1"
    assert delivery_key({"type": "view_submission", "trigger_id": "t.2"}) == "trigger:t.2"
    assert delivery_key({"type": "url_verification", "challenge": "x"}) is None
    edited = {"event_id": "Ev2", "event": {"type": "message", "subtype": "message_changed"}}
    assert delivery_key(edited) is None  # ignored anyway: not worth a write
