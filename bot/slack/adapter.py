"""Slack requests in, engine inputs; replies out, as direct messages.

A thin adapter on a Bolt :class:`~slack_bolt.App`: it translates and never
decides. What it needs of the hub, the engine and the store it asks of a
:class:`bot.slack.core.SlackCore`, in this process or in the bot's when
Slack runs in a process of its own. Per request:

1. Bolt checks the signature (HTTP mode) and the listener acknowledges at
   once, in the thread that answers Slack (Slack wants its answer within
   three seconds), and hands the work to the front end's executor. Nothing
   in the answer waits for a worker to be free or for the store. Only the
   add-account form is checked before the answer, since its errors go back
   in it;
2. the work first claims the delivery in the store (:mod:`bot.slack.dedupe`):
   a retry or a repeated press does nothing;
3. the Slack user is matched to an active hub account by their profile
   email (:mod:`bot.slack.identity`); anyone else gets a short explanation.
   For a message or a button press, the commonest requests, the claim, that
   check and the engine's answer are one question to the core;
4. the input goes to the engine and the replies are posted in the person's
   direct messages with the bot: account data never appears in a channel,
   whether the conversation began with ``/hub`` in a channel or an
   ``@mention``. A pressed message loses its buttons (or is replaced, for a
   page turn), so an old message offers nothing to press twice.

The add-account form is also a modal (``/hub add`` or the App Home button),
checked on submit with the errors shown in the form; the App Home tab shows
the centre's counts.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from slack_bolt import Ack, App, Args, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.slack import inbound, render, views
from bot.slack.core import FormEntry, SlackCore, Turn, person_of, stale
from bot.slack.dedupe import delivery_key
from bot.slack.http import RECEIVED_AT
from bot.slack.identity import NOT_CHECKED, Identity, IdentityUnavailable, Who
from handlers.conversations.add import parse_one_line
from handlers.conversations.import_accounts import MAX_UPLOAD
from handlers.replies import Command, Input, Reply, Text, Upload, line
from hub import Action, Actor, Role

log = logging.getLogger(__name__)

SLASH_COMMAND = "/hub"
SORRY = (
    "Sorry, something went wrong on our side and was logged. Please try again, "
    "or send 'cancel' to start afresh."
)
ANSWERED_IN_DM = (
    "I've answered in our direct messages (under Apps in Slack's sidebar): "
    "account details are never shown in a channel."
)
FILE_TOO_LARGE = "That file is too large (at most 1 MB). Split it and send the parts."
FILE_TYPE = "Please send a .csv file (saved from a spreadsheet as CSV UTF-8), during 'import'."
FILE_FAILED = "That file could not be fetched from Slack; please send it again."
FILE_TYPES = (".csv", ".txt")
DELIVERY = "hub_delivery"  # in the Bolt context: what identifies the delivery, to claim it


class SlackAdapter:
    def __init__(
        self,
        core: SlackCore,
        client: WebClient,
        *,
        signing_secret: str,
        executor: Any,
        files_host: str = "files.slack.com",
    ) -> None:
        self.core = core
        self.client = client
        self.identity = Identity(client, core.who)
        self.files_hosts = {files_host, urlparse(client.base_url).hostname or ""}
        self.executor = executor
        self.closing = False
        self._dm_channels: dict[str, str] = {}
        self._user_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.bolt = App(
            client=client,
            signing_secret=signing_secret,
            token_verification_enabled=False,  # auth.test happens at start, not at import
            # Every listener runs in the dispatching thread: it acknowledges
            # and hands its work to the executor (what stop() and wait_idle()
            # see), so the answer to Slack never waits for a worker.
            process_before_response=True,
            listener_executor=executor,
            logger=logging.getLogger("bot.slack.bolt"),
        )
        self._register(self.bolt)

    # ----------------------------------------------------------- wiring
    def _register(self, app: App) -> None:
        app.middleware(self._take_in)
        later = self._later
        app.command(SLASH_COMMAND)(later(self.on_slash))
        app.event("message")(later(self.on_message, claims_itself=True))
        app.event("app_mention")(later(self.on_mention))
        app.event("app_home_opened")(later(self.on_home_opened))
        app.action(re.compile(rf"^{render.BUTTON_PREFIX}\d+$"))(
            later(self.on_button, claims_itself=True)
        )
        # Tick boxes live in the Slack client until a button of the message is
        # pressed; their state comes with that press (see on_button).
        app.action(re.compile(rf"^{render.TICKS_PREFIX}\d+$"))(_ack)
        app.action(views.HOME_ADD)(later(self.on_home_add))
        app.action(re.compile(rf"^{views.HOME_COMMAND}\d+$"))(later(self.on_home_command))
        app.view(views.ADD_CALLBACK)(self.on_add_submitted)
        app.error(self.on_error)

    def _later(
        self, work: Callable[..., None], *, claims_itself: bool = False
    ) -> Callable[[Ack, Args], None]:
        """A listener that acknowledges and hands ``work`` to the executor,
        given the arguments it names, to run once the delivery is claimed
        (unless the work claims it itself, with its question to the core).

        Bolt's own *lazy listeners* do the same but first deep-copy the
        request and wire it up again: a quarter of the Slack process's CPU
        under load, spent on the thread that also carries every answer from
        the bot's process. Nothing changes the request once it is answered,
        so the work reads Bolt's arguments as they are."""
        names = list(inspect.signature(work).parameters)

        def run(args: Args) -> None:
            if claims_itself or self._first(args.context):
                work(**{name: getattr(args, name) for name in names})

        def listener(ack: Ack, args: Args) -> None:
            ack()
            self._soon(run, args.body, args)

        listener.__name__ = listener.__qualname__ = work.__name__  # Bolt's logs name it
        return listener

    def _soon(self, work: Callable[..., None], body: dict[str, Any], *args: Any) -> None:
        """Run ``work`` on the executor; what it raises goes to
        :meth:`on_error` like a failure before the acknowledgement (logged,
        the person told)."""

        def run() -> None:
            try:
                work(*args)
            except Exception as exc:
                self.on_error(exc, body)

        self.executor.submit(run)

    def _take_in(self, req: BoltRequest, next: Any) -> BoltResponse | None:
        """Note what identifies the delivery, for the work to claim it. While
        stopping, nothing is taken on: Slack is asked to deliver again later
        (to the restarted bot).

        Runs once per delivery, before the acknowledgement, and asks nothing
        of the core: a claim is made by the work (:meth:`_first`), so the
        answer to Slack never waits for the store, and a message's claim
        rides with its turn in one question. A repeat is acknowledged like
        the first delivery and then finds the claim."""
        if self.closing:
            return BoltResponse(status=503, body="The bot is restarting; try again shortly.")
        req.context[DELIVERY] = delivery_key(req.body) if isinstance(req.body, dict) else None
        return next()

    def _first(self, context: dict[str, Any]) -> bool:
        """Claim the delivery: False for one handled already (Slack's
        retries, repeated presses), which is then dropped."""
        key = context.get(DELIVERY)
        return key is None or self.core.claim(key)

    # -------------------------------------------------------- listeners
    # Each runs on the executor, after the acknowledgement (see _register).
    def on_slash(self, command: dict[str, Any], respond: Any) -> None:
        user = command["user_id"]
        said = inbound.command(command.get("text"))
        who = self._known(
            user,
            tell=respond,
            refuse=lambda text: respond(text=render.escape(text), response_type="ephemeral"),
        )
        if who is None:
            return
        if isinstance(said, Command) and said.name in self.core.add_words:
            if self._open_add_modal(who, command.get("trigger_id"), said.args, tell=respond):
                return
        channel = self._converse(who, said)
        if command.get("channel_id") != channel:
            respond(text=ANSWERED_IN_DM, response_type="ephemeral")

    def on_message(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        subtype = event.get("subtype")
        user = event.get("user")
        if not user or subtype not in (None, "file_share"):
            return  # edits, deletions, joins, our own updates: nothing to answer
        if subtype == "file_share" and event.get("files"):
            if not self._first(context):
                return
            who = self._known(user)  # before fetching anything
            if who is None:
                return
            upload = self._download(user, event["files"][0])
            if upload is not None:
                self._converse(who, upload)
            return
        said = Text(inbound.typed_text(event.get("text")))
        self._turn(user, context, lambda email, once: self.core.converse(user, email, said, once))

    def on_mention(self, event: dict[str, Any]) -> None:
        user, channel = event.get("user"), event.get("channel", "")
        if not user or event.get("bot_id"):
            return

        def note(text: str) -> None:
            if channel.startswith("D"):
                self.say(user, text)
                return
            self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=render.escape(text),
                thread_ts=event.get("thread_ts"),
            )

        who = self._known(user, tell=lambda **kw: note(NOT_CHECKED), refuse=note)
        if who is None:
            return
        dm = self._converse(who, inbound.command(event.get("text")))
        if channel != dm:
            note(ANSWERED_IN_DM)

    def on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            self.publish_home(event["user"])

    def on_button(self, body: dict[str, Any], context: dict[str, Any]) -> None:
        user = body["user"]["id"]
        pressed = inbound.button_press(body)
        if pressed is None:
            return
        token, label = pressed
        ticks = inbound.tick_changes(body)
        self._turn(
            user,
            context,
            lambda email, once: self.core.press(user, email, token, label, ticks, once),
            pressed=(body, label),
        )

    def on_home_add(self, body: dict[str, Any]) -> None:
        user = body["user"]["id"]
        who = self._known(user)
        if who is None:
            return
        if not self._open_add_modal(who, body.get("trigger_id"), ""):
            self._converse(who, Command("add"))

    def on_home_command(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        who = self._known(user)
        if who is None:
            return
        self._converse(who, inbound.command(action.get("value")))

    def on_add_submitted(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
    ) -> None:
        """The form, checked before Slack is answered, with the errors going
        back into it; else the account is added and the confirmation posted
        afterwards, on the executor. Everything here is the store (and
        users.info if the profile is not cached), well within 3 seconds."""
        user = body["user"]["id"]
        if not self._first(context):
            ack()  # a repeat: the first delivery was answered, and the form closed
            return
        name, email, admin, sites = views.read_add_form(view)
        try:
            who = self.identity.who(user)
        except IdentityUnavailable:
            ack(response_action="errors", errors={"name": NOT_CHECKED})
            return
        if who.account is None:
            ack(response_action="errors", errors={"name": who.refusal})
            return
        actor = Actor(who.account.account_id, f"slack:{user}")
        done = self.core.add_from_form(actor, FormEntry(name, email, admin, tuple(sites)))
        if not isinstance(done, Reply):
            ack(response_action="errors", errors=done)
            return
        ack()
        self._soon(self._deliver, body, user, [done])

    def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """A listener failed (its work, or the form's check): log, and tell
        the person. Work was acknowledged before it started; a failed check
        is answered with a 500."""
        log.error("Slack listener failed", exc_info=(type(error), error, error.__traceback__))
        user = inbound.user_id(body) if isinstance(body, dict) else None
        if not user:
            return
        try:
            self.say(user, SORRY)
        except Exception as exc:
            log.error("could not tell %s about the failure either: %s", user, exc)

    # --------------------------------------------------------- the work
    def _known(
        self,
        user: str,
        *,
        tell: Callable[..., Any] | None = None,
        refuse: Callable[[str], Any] | None = None,
    ) -> Who | None:
        """The Slack user with their hub account, or None once they have been
        told why not (no matching active account, or Slack did not answer)."""
        who = self._who(user, tell=tell)
        if who is None:
            return None
        if who.account is None:
            (refuse or (lambda text: self.say(user, text)))(who.refusal)
            return None
        return who

    def _who(self, user: str, tell: Any = None) -> Who | None:
        """The user's account (or the refusal); None if Slack couldn't say,
        after telling the user so."""
        try:
            return self.identity.who(user)
        except IdentityUnavailable as exc:
            log.warning("users.info for %s failed: %s", user, exc)
            if tell is not None:
                tell(text=NOT_CHECKED, response_type="ephemeral")
            else:
                self.say(user, NOT_CHECKED)
            return None

    def _converse(self, who: Who, said: Input) -> str:
        """Hand one input to the engine and post its replies; the DM channel."""
        with self._lock_for(who.user_id):
            replies = self.core.handle(person_of(who), said)
            return self._deliver(who.user_id, replies)

    def _turn(
        self,
        user: str,
        context: dict[str, Any],
        ask: Callable[[str | None, str | None], Turn | None],
        pressed: tuple[dict[str, Any], str] | None = None,
    ) -> None:
        """A message or a press: its claim, who the user is and the engine's
        answer in one question to the core (the commonest requests), then
        the replies or the refusal; nothing for a repeated delivery.
        ``ask(email, delivery)`` is that question."""
        started = _received(context)
        try:
            email = self.identity.email(user)
        except IdentityUnavailable as exc:
            if not self._first(context):
                return
            log.warning("users.info for %s failed: %s", user, exc)
            self.say(user, NOT_CHECKED)
            return
        with self._lock_for(user):
            turn = ask(email, context.get(DELIVERY))
            if turn is None:
                return
            if turn.who.account is None:
                self.say(user, turn.who.refusal)
                return
            self.core.observe(started)  # the bot's own work ends where the reply calls start
            if pressed is not None:
                self._deliver(user, turn.replies, pressed=(*pressed, turn.reusable))
            else:
                self._deliver(user, turn.replies)

    def _deliver(
        self,
        user: str,
        replies: list[Reply],
        pressed: tuple[dict[str, Any], str, bool] | None = None,
    ) -> str:
        """Post replies in the user's DM; update the pressed message first."""
        replies = [r for r in replies if not render.is_empty(r)]
        if pressed is not None:
            replies = self._update_pressed(replies, *pressed)
        channel = self.dm_channel(user)
        for reply in replies:
            message = render.render(reply)
            self.client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **message.kwargs()
            )
        return channel

    def _update_pressed(
        self, replies: list[Reply], body: dict[str, Any], label: str, reusable: bool
    ) -> list[Reply]:
        container = body.get("container") or {}
        message = body.get("message")
        if container.get("type") != "message" or not message or container.get("is_ephemeral"):
            return replies
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or message.get("ts")
        if not channel or not ts:
            return replies
        if replies and replies[0].edit:
            new = render.render(replies[0])
            self.client.chat_update(channel=channel, ts=ts, **new.kwargs())
            return replies[1:]
        if stale(replies) or reusable:
            return replies  # a refused press, or a digest button that stays usable
        self.client.chat_update(
            channel=channel,
            ts=ts,
            text=message.get("text") or render.escape(label),
            blocks=render.answered(message.get("blocks") or [], label),
        )
        return replies

    def dm_channel(self, user: str) -> str:
        with self._guard:
            channel = self._dm_channels.get(user)
        if channel is None:
            channel = self.client.conversations_open(users=user)["channel"]["id"]
            with self._guard:
                self._dm_channels[user] = channel
        return channel

    def say(self, user: str, text: str) -> None:
        """One line of our own words in the user's DM."""
        self._deliver(user, [Reply((line(text),), final=True)])

    def push(self, user: str, replies: list[Reply]) -> None:
        with self._lock_for(user):
            self._deliver(user, replies)

    def _lock_for(self, user: str) -> threading.Lock:
        """Replies to one person are posted in the order they were made."""
        with self._guard:
            return self._user_locks.setdefault(user, threading.Lock())

    # ------------------------------------------------------------- modal
    def _open_add_modal(
        self, who: Who, trigger_id: str | None, args: str, tell: Any = None
    ) -> bool:
        """Open the add-account form; False if it could not be opened (the
        conversation in the DM does the same job then)."""
        assert who.account is not None
        why = self.core.may(Actor(who.account.account_id, f"slack:{who.user_id}"), Action.ADD)
        if why:
            if tell is not None:
                tell(text=render.escape(why), response_type="ephemeral")
            else:
                self.say(who.user_id, why)
            return True
        if not trigger_id:
            return False
        found = parse_one_line(args)
        view = views.add_modal(
            who.account.role is Role.COORDINATOR, found.get("name", ""), found.get("email", "")
        )
        try:
            self.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            log.warning("views.open failed (%s): the add conversation instead", exc)
            return False
        return True

    # -------------------------------------------------------------- home
    def publish_home(self, user: str) -> None:
        try:
            who = self.identity.who(user)
        except IdentityUnavailable:
            self.client.views_publish(user_id=user, view=views.home_refused(NOT_CHECKED))
            return
        if who.account is None:
            self.client.views_publish(user_id=user, view=views.home_refused(who.refusal))
            return
        home = self.core.home(who.account)
        view = views.home_view(
            who.account,
            home.centre_name,
            home.counts,
            list(home.allowed),
            self.core.remind_after_days,
        )
        self.client.views_publish(user_id=user, view=view)

    # ------------------------------------------------------------- files
    def _download(self, user: str, file: dict[str, Any]) -> Upload | None:
        name = str(file.get("name") or "upload.csv")
        if int(file.get("size") or 0) > MAX_UPLOAD:
            self.say(user, FILE_TOO_LARGE)
            return None
        if not name.lower().endswith(FILE_TYPES) and file.get("filetype") not in ("csv", "text"):
            self.say(user, FILE_TYPE)
            return None
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        parsed = urlparse(url)
        # The bot token goes only to Slack's own file host (or the configured API host).
        if parsed.scheme not in ("https", "http") or parsed.hostname not in self.files_hosts:
            log.warning("refused to fetch a Slack file from %s", parsed.hostname)
            self.say(user, FILE_FAILED)
            return None
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {self.client.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                data = response.read(MAX_UPLOAD + 1)
        except OSError as exc:
            log.warning("fetching a Slack file failed: %s", exc)
            self.say(user, FILE_FAILED)
            return None
        if len(data) > MAX_UPLOAD:
            self.say(user, FILE_TOO_LARGE)
            return None
        return Upload(name, data, str(file.get("mimetype") or ""))


def _ack(ack: Ack) -> None:
    """The acknowledgement of every listener but the form's: at once, empty."""
    ack()


def _received(context: dict[str, Any]) -> float:
    """When the request reached the bot's server (HTTP mode: set in
    :mod:`bot.slack.http`, in Bolt's context), else now."""
    return context.get(RECEIVED_AT) or metrics.now()
