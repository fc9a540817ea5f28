"""The engine: one input in, replies out, the conversation's state stored.

Per person and front end it keeps which conversation is open, at which step,
what has been gathered, and which buttons the last message carried. Every
button token belongs to one message of one step: a press on an older message,
or a second press, finds no match and is refused; nothing runs twice.

State lives in the store (table ``conversations``), so a restarted bot
resumes where it was. A conversation idle for 15 minutes expires with
nothing changed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from handlers.conversation import CANCEL, CONFIRM, Answer, Conversation, Ctx, Reask
from handlers.replies import (
    Button,
    Command,
    Input,
    Person,
    Press,
    Reply,
    Span,
    Tick,
    Upload,
    line,
)
from hub import Account, Hub, HubError, Role
from hub.permissions import refusal
from storage import StoreError

log = logging.getLogger(__name__)

STATES = "conversations"
LAUNCHERS = "launchers"
IDLE_LIMIT = timedelta(minutes=15)
LAUNCHER_LIFETIME = timedelta(days=8)
CANCEL_WORDS = {"cancel", "/cancel", "stop", "quit"}
CONFIRM_WORDS = {"confirm", "/confirm", "yes", "y", "ok"}
NOT_SAVED = "{reason} Nothing was changed; please try again in a moment."
BROKEN = (
    "Sorry, something went wrong on our side and was logged; nothing more was changed. "
    "Please try again, or send 'cancel' to start afresh."
)
EXPIRED = "Your earlier '{name}' conversation expired after 15 minutes idle; nothing was changed."
UPLOAD_FIRST = "To add accounts from a file, send 'import' first, then the CSV file."
STALE_BUTTON = "That button belongs to an earlier message, or was already used; nothing was done."
TEACHERS_ONLY = "Teachers can use 'me' and 'reset' only; please ask your coordinator."
UNKNOWN = "Send 'help' to see what you can do."
NOTHING_TO_CANCEL = "There is nothing to cancel. " + UNKNOWN
PRESS_CONFIRM = "Please press {label} to go ahead, or Cancel."


def say(*parts: str | Span, final: bool = False) -> Reply:
    """A reply of one line."""
    return Reply((line(*parts),), final=final)


class Engine:
    """Runs conversations for every front end. Thread-safe: inputs from one
    person are handled one at a time, different people in parallel."""

    def __init__(self, hub: Hub, conversations: dict[str, Conversation]) -> None:
        self.hub = hub
        self.store = hub.store
        self.conversations = conversations
        self._aliases = {alias: c for c in conversations.values() for alias in (c.name, *c.aliases)}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.on_change: Callable[[], None] = lambda: None  # e.g. wake the mailer

    # ------------------------------------------------------------- public
    def handle(self, person: Person, event: Input) -> list[Reply]:
        with self._lock_for(person.key):
            try:
                return self._handle(person, _valid_unicode(event))
            except StoreError as exc:
                log.error("store error for %s: %s", person.key, exc)
                return [say(NOT_SAVED.format(reason=exc), final=True)]
            except Exception:  # a bug: log it, never show a traceback to a person
                log.exception("conversation failed for %s", person.key)
                return [say(BROKEN, final=True)]
            finally:
                self.on_change()

    def commands_for(self, account: Account | None, frontend: str) -> list[tuple[str, str]]:
        """(command, summary) a person may start here: their help menu."""
        return [(c.name, c.summary) for c in self._available(account, frontend)]

    def _available(self, account: Account | None, frontend: str) -> list[Conversation]:
        found = []
        for c in self.conversations.values():
            if c.frontends is not None and frontend not in c.frontends:
                continue
            if account is None:
                if c.audience in ("unlinked", "both"):
                    found.append(c)
                continue
            if c.audience == "unlinked":
                continue
            if account.role is Role.TEACHER and not c.for_teachers:
                continue
            # The account was read for this very input; the hub checks again
            # at every change, so no transaction per menu entry is needed here.
            if c.needs is not None and refusal(account, c.needs):
                continue
            found.append(c)
        return found

    def launchers(self, account_id: str, starts: Sequence[tuple[str, str | None]]) -> list[str]:
        """Button tokens that start conversations later (a reminder digest's
        buttons), one per (conversation name, value), written in one
        transaction: one wait for the disk per digest, not one per button.
        Permissions are checked when a button is pressed, not when it is made."""
        expires_at = (self.hub.now() + LAUNCHER_LIFETIME).isoformat()
        tokens = ["l" + secrets.token_urlsafe(9) for _ in starts]
        with self.store.transaction() as tx:
            for token, (name, value) in zip(tokens, starts, strict=True):
                doc = {"account_id": account_id, "name": name, "value": value}
                tx.put(LAUNCHERS, token, {**doc, "expires_at": expires_at})
        return tokens

    def pending(self, person: Person) -> Reply | None:
        """The question a stored conversation is waiting on (to show it again
        when a console starts), or None."""
        state = self.store.get(STATES, person.key)
        if state is None or self._expired(state) or not state.get("prompt"):
            return None
        return _reply_from_doc(state["prompt"])

    def expire_idle(self) -> int:
        """Forget conversations idle past the limit and old launchers."""
        now = self.hub.now()
        stale = [
            d["_key"]
            for d in self.store.scan(STATES)
            if datetime.fromisoformat(d["updated_at"]) < now - IDLE_LIMIT
        ]
        old = [
            d["_key"]
            for d in self.store.scan(LAUNCHERS)
            if datetime.fromisoformat(d["expires_at"]) < now
        ]
        if stale or old:
            with self.store.transaction() as tx:
                for key in stale:
                    tx.delete(STATES, key)
                for key in old:
                    tx.delete(LAUNCHERS, key)
        return len(stale) + len(old)

    # ------------------------------------------------------------ internal
    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _handle(self, person: Person, event: Input) -> list[Reply]:
        me = self.hub.account(person.account_id) if person.account_id else None
        if me is not None and not me.active:
            me = None
        if me is None:
            person = Person(person.frontend, person.chat_id, None)
        state = self.store.get(STATES, person.key)
        notes: list[Reply] = []
        if state is not None and self._expired(state):
            self._forget(person)
            notes.append(say(EXPIRED.format(name=state["name"])))
            state = None
        if state is not None and state.get("account_id") != person.account_id:
            self._forget(person)  # the chat now speaks for someone else
            state = None

        if isinstance(event, Press):
            return notes + self._press(person, me, state, event.token)
        if isinstance(event, Command):
            if event.name in CANCEL_WORDS and state is not None:
                return self._cancel(person, state)
            if state is not None:
                self._forget(person)
            return notes + self._start(person, me, event.name, Answer(text=event.args))
        if isinstance(event, Upload):
            if state is None:
                return [*notes, say(UPLOAD_FIRST)]
            answer = Answer(filename=event.filename, data=event.data)
            return notes + self._step(person, me, state, answer)
        text = event.text.strip()
        if state is None and text.lower() in CANCEL_WORDS:
            return [*notes, say(NOTHING_TO_CANCEL, final=True)]
        if state is None:
            word, _, rest = text.lstrip("/").partition(" ")
            return notes + self._start(
                person, me, word.lower() or "help", Answer(text=rest.strip())
            )
        if text.lower() in CANCEL_WORDS:
            return self._cancel(person, state)
        return notes + self._step(person, me, state, self._typed(state, text))

    @staticmethod
    def _typed(state: dict[str, Any], text: str) -> Answer:
        """A typed button label counts as pressing it; at a summary, typing
        "confirm" (or "yes") counts as pressing its Confirm button, except
        for a destructive one (delete), which takes its own words."""
        wanted = text.casefold()
        if state.get("confirming") and wanted in CONFIRM_WORDS:
            kinds = [kind for _, _, kind in state.get("prompt", {}).get("buttons", [])]
            if "danger" not in kinds:
                return Answer(text=text, value=CONFIRM)
        for token, value in state.get("buttons", {}).items():
            if state.get("labels", {}).get(token, "").casefold() == wanted:
                return Answer(text=text, value=value)
        return Answer(text=text)

    def _press(
        self, person: Person, me: Account | None, state: dict[str, Any] | None, token: str
    ) -> list[Reply]:
        if state is not None and token in state.get("buttons", {}):
            value = state["buttons"][token]
            if value == CANCEL:
                return self._cancel(person, state)
            answer = Answer(text=state["labels"].get(token, ""), value=value)
            return self._step(person, me, state, answer)
        launcher = self.store.get(LAUNCHERS, token) if token.startswith("l") else None
        if launcher is not None and launcher["account_id"] == person.account_id:
            if state is not None:
                self._forget(person)
            return self._start(person, me, launcher["name"], Answer(value=launcher["value"]))
        if state is not None and state.get("prompt"):
            return [say(STALE_BUTTON), _reply_from_doc(state["prompt"])]
        return [say(STALE_BUTTON)]

    def _refuse_start(
        self,
        person: Person,
        me: Account | None,
        conversation: Conversation,
        available: list[Conversation],
    ) -> str | None:
        """Why this person may not start this conversation here, or None."""
        if conversation in available:
            return None
        if me is None or conversation.audience == "unlinked":
            return ""  # not for them: the engine falls back to help
        if conversation.needs is not None:
            why = refusal(me, conversation.needs)  # ``me`` was read for this message
            if why:
                return why
        return TEACHERS_ONLY if me.role is Role.TEACHER else ""

    def _start(
        self,
        person: Person,
        me: Account | None,
        name: str,
        arg: Answer,
        carry: dict[str, Any] | None = None,
    ) -> list[Reply]:
        conversation = self._aliases.get(name)
        available = self._available(me, person.frontend)
        if conversation is not None:
            why = self._refuse_start(person, me, conversation, available)
            if why:
                return [say(why, final=True)]
            if why == "":
                conversation = None
        if conversation is None:
            if me is not None:
                return [say("I don't know ", Span(name[:40], "bold"), ". " + UNKNOWN, final=True)]
            conversation, arg = self._aliases["help"], Answer()  # unlinked: the help to link
        c = Ctx(self.hub, person, me, dict(carry or {}))
        c.menu = [(cv.name, cv.summary) for cv in available]
        try:
            reply = conversation.start(c, arg)
        except Reask as again:
            reply = again.reply
        except HubError as exc:
            return [say(exc.message, final=True)]
        return self._after(person, conversation, c, reply)

    def _step(
        self, person: Person, me: Account | None, state: dict[str, Any], answer: Answer
    ) -> list[Reply]:
        conversation = self.conversations[state["name"]]
        if state.get("confirming") and answer.value != CONFIRM:
            prompt = _reply_from_doc(state["prompt"])
            label = prompt.buttons[0].label if prompt.buttons else "Confirm"
            return [say(PRESS_CONFIRM.format(label=label)), prompt]
        c = Ctx(self.hub, person, me, dict(state.get("data", {})))
        c.menu = [(cv.name, cv.summary) for cv in self._available(me, person.frontend)]
        handler = getattr(conversation, f"on_{state['step']}")
        try:
            reply = handler(c, answer)
        except Reask as again:
            reply = again.reply
        except HubError as exc:
            if state.get("confirming"):
                self._forget(person)
                return [say("Nothing was changed: ", exc.message, final=True)]
            return [say(exc.message), _reply_from_doc(state["prompt"])]
        return self._after(person, conversation, c, reply)

    def _after(
        self, person: Person, conversation: Conversation, c: Ctx, reply: Reply
    ) -> list[Reply]:
        if c.switch_to is not None:
            self._forget(person)
            me = self.hub.account(person.account_id) if person.account_id else None
            to = c.switch_to
            replies = [reply] if reply.lines else []
            answer = Answer(text=to.args, value=to.value)
            return replies + self._start(person, me, to.name, answer, to.carry)
        if c.next_step is None:
            self._forget(person)
            return [reply]
        labels = {item.token: item.label for item in reply.all_buttons()}
        doc = {
            "name": conversation.name,
            "step": c.next_step,
            "confirming": c.confirming,
            "data": c.data,
            "buttons": c.buttons,
            "labels": labels,
            "prompt": _reply_to_doc(reply),
            "account_id": person.account_id,
            "updated_at": self.hub.now().isoformat(),
        }

        def save() -> None:
            # Where a conversation stands is nobody's confirmed change: it
            # need not wait for the disk (it survives the process dying).
            with self.store.transaction(durable=False) as tx:
                tx.put(STATES, person.key, doc)

        return self._kept(reply, save)

    @staticmethod
    def _kept(reply: Reply, write_state: Callable[[], None]) -> list[Reply]:
        """Store the conversation's new state. The reply stands even if that
        fails: whatever the step changed in the hub is already on disk, so
        the person must hear of it, and of the lost conversation."""
        try:
            write_state()
        except StoreError as exc:
            log.error("conversation state not saved: %s", exc)
            return [
                reply,
                say(
                    f"{exc} This conversation could not be kept; please start it again.", final=True
                ),
            ]
        return [reply]

    def _cancel(self, person: Person, state: dict[str, Any]) -> list[Reply]:
        self._forget(person)
        return [say(f"Cancelled '{state['name']}'; nothing was changed.", final=True)]

    def _forget(self, person: Person) -> None:
        """End the stored conversation. A failure to write is logged, not
        raised: the reply about what was done matters more, and a state left
        behind expires by itself."""
        if self.store.get(STATES, person.key) is not None:
            try:
                with self.store.transaction(durable=False) as tx:
                    tx.delete(STATES, person.key)
            except StoreError as exc:
                log.error("conversation state not cleared: %s", exc)

    def _expired(self, state: dict[str, Any]) -> bool:
        return datetime.fromisoformat(state["updated_at"]) < self.hub.now() - IDLE_LIMIT


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(event: Input) -> Input:
    """The input with any lone surrogate made U+FFFD. They come from bytes
    that are not UTF-8 (the console reads them with ``surrogateescape``) or
    from ``\\ud800`` escapes in a platform's JSON, and could be neither
    stored (UTF-8) nor sent to Telegram (UTF-16)."""
    fields = {
        f.name: _SURROGATE.sub("\ufffd", value)
        for f in dataclasses.fields(event)
        if isinstance(value := getattr(event, f.name), str) and _SURROGATE.search(value)
    }
    return dataclasses.replace(event, **fields) if fields else event


def _reply_to_doc(reply: Reply) -> dict[str, Any]:
    return {
        "lines": [[[s.text, s.style] for s in ln] for ln in reply.lines],
        "buttons": [[bt.label, bt.token, bt.kind] for bt in reply.buttons],
        "ticks": [[t.label, t.token, t.ticked] for t in reply.ticks],
    }


def _reply_from_doc(doc: dict[str, Any]) -> Reply:
    return Reply(
        tuple(tuple(Span(text, style) for text, style in ln) for ln in doc["lines"]),
        tuple(Button(label, token, kind) for label, token, kind in doc["buttons"]),
        tuple(Tick(label, token, ticked) for label, token, ticked in doc["ticks"]),
    )
