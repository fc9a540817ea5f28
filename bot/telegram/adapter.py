"""Telegram updates in, neutral inputs to the engine; replies out, as messages.

A thin adapter: it translates and never decides. Per update:

1. the ``update_id`` is claimed (a repeat does nothing);
2. anything but a private chat gets one word that the bot works in private
   chats only, and nothing else;
3. the input goes to the core (:mod:`bot.telegram.core`: in this process or
   the one that holds the store), which looks the chat's link up afresh (a
   suspended or deleted account's link stops at once) and hands the input to
   the engine; its replies are rendered: new messages, or the pressed
   message edited in place (tick boxes, page turns);
4. the chat's command menu follows what its person may now do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import metrics
from bot.telegram import render
from bot.telegram.core import Core, Menu
from bot.telegram.updates import update_key
from handlers.conversations.import_accounts import MAX_UPLOAD
from handlers.replies import Command, Input, Press, Reply, Text, Upload

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?\Z", re.DOTALL)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
FILE_TYPES = (".csv", ".txt")

PRIVATE_ONLY = (
    "The School Support Hub bot works in a private chat only: open a chat with me "
    "and send /start there."
)
FILE_TOO_LARGE = "That file is too large (at most 1 MB). Split it and send the parts."
FILE_TYPE = (
    "Please send a .csv file (saved from a spreadsheet as CSV UTF-8). "
    "Files are read while an 'import' is waiting for them."
)
FILE_FAILED = "That file could not be fetched from Telegram; please send it again."
NOT_UNDERSTOOD = (
    "I read text, button presses and CSV files (during 'import'). "
    "Send /help to see what you can do."
)
SORRY = "Sorry, something went wrong on our side and was logged. Please try again."


def _for_the_engine(update: Update) -> bool:
    """A private chat's new text (a command or words) or a button with data:
    the updates that go to the engine, and are claimed with their turn."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return False
    if update.message is not None:
        return update.message.text is not None
    return update.callback_query is not None and bool(update.callback_query.data)


def parse_command(text: str) -> tuple[str, str] | None:
    """``/suspend@HubBot jane@school.org`` → ("suspend", "jane@school.org")."""
    found = _COMMAND.match(text.strip())
    if found is None:
        return None
    return found.group(1).lower(), (found.group(3) or "").strip()


def to_input(name: str, args: str) -> Input:
    if name == "cancel":
        return Text("cancel")  # ends the conversation in progress, as typed 'cancel' does
    if name == "start":
        return Command("help")  # a deep-link payload means nothing here
    return Command(name, args)


class Adapter:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._menus: dict[int, Menu] = {}
        self._told_groups: set[int] = set()
        self._warned: set[str] = set()

    # ------------------------------------------------------------ wiring
    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        new = filters.UpdateType.MESSAGE  # edits of old messages are not new input
        application.add_handler(TypeHandler(Update, self.once), group=-2)
        application.add_handler(TypeHandler(Update, self.private_only), group=-1)
        commands = self.core.command_names
        application.add_handler(CommandHandler(commands, self.on_command, filters=new))
        application.add_handler(MessageHandler(new & filters.COMMAND, self.on_command))
        application.add_handler(MessageHandler(new & filters.TEXT, self.on_text))
        application.add_handler(MessageHandler(new & filters.Document.ALL, self.on_document))
        application.add_handler(CallbackQueryHandler(self.on_press))
        application.add_handler(MessageHandler(new, self.on_other))
        application.add_error_handler(self.on_error)

    # ------------------------------------------------------- every update
    async def once(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Claim the update, unless it goes to the engine: then the claim
        travels with the input (:meth:`converse`), one call to the core
        instead of two."""
        if _for_the_engine(update):
            return
        if not await self.core.claim(update_key(context.bot.id, update.update_id)):
            raise ApplicationHandlerStop

    async def private_only(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            return
        if update.callback_query is not None:
            await self._answer(update)
        if (
            chat is not None
            and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
            and chat.id not in self._told_groups
        ):
            self._told_groups.add(chat.id)
            try:
                await context.bot.send_message(chat.id, PRIVATE_ONLY)
            except TelegramError as exc:
                log.info("could not tell group %s to use a private chat: %s", chat.id, exc)
        raise ApplicationHandlerStop

    # ------------------------------------------------------------- inputs
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        parsed = parse_command(message.text)
        event = to_input(*parsed) if parsed else Text(message.text)
        await self.converse(context.bot, message.chat_id, event, update=update)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await self.converse(context.bot, message.chat_id, Text(message.text), update=update)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        pressed = query.message if isinstance(query.message, Message) else None
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        if not query.data:
            await self._answer(update)
            return
        await self.converse(context.bot, chat_id, Press(query.data), pressed=pressed, update=update)

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.document is not None
        document = message.document
        filename = document.file_name or "file"
        if not filename.lower().endswith(FILE_TYPES):
            await self._say(context.bot, message.chat_id, FILE_TYPE)
            return
        if document.file_size is not None and document.file_size > MAX_UPLOAD:
            await self._say(context.bot, message.chat_id, FILE_TOO_LARGE)
            return
        try:
            file = await context.bot.get_file(document.file_id)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("could not fetch a document from Telegram: %s", exc)
            await self._say(context.bot, message.chat_id, FILE_FAILED)
            return
        if len(data) > MAX_UPLOAD:
            await self._say(context.bot, message.chat_id, FILE_TOO_LARGE)
            return
        event = Upload(filename, data, document.mime_type or "")
        await self.converse(context.bot, message.chat_id, event)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.effective_attachment is None:
            return  # a service message (pinned, chat settings...): nothing was said
        await self._say(context.bot, message.chat_id, NOT_UNDERSTOOD)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, Forbidden):  # the person blocked the bot: nobody to tell
            log.info("Telegram update %s: %s", update_id, error)
            return
        log.error(
            "Telegram update %s failed: %s",
            update_id,
            error.__class__.__name__,
            exc_info=error,
        )
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None and chat.type == ChatType.PRIVATE:
            try:
                await context.bot.send_message(chat.id, SORRY)
            except TelegramError:
                pass

    # ---------------------------------------------------------- the engine
    async def converse(
        self,
        bot: Bot,
        chat_id: int,
        event: Input,
        pressed: Message | None = None,
        update: Update | None = None,
    ) -> None:
        """One input, its replies sent. ``update`` is claimed with the turn
        when it was not claimed before (:meth:`once`). For a button press,
        the press is answered (the button's spinner stops) once the engine
        has decided, whatever it decided: the answer is a call to Telegram
        like the replies, and waiting for it first would delay the step for
        nothing."""
        started = metrics.received()
        claim = None
        if update is not None and _for_the_engine(update):
            claim = update_key(bot.id, update.update_id)
        repeat = False
        try:
            turn = await self.core.turn(str(chat_id), event, claim)
            if turn is None:  # a repeat: it was answered the first time
                repeat = True
                return
            replies, menu = turn
            self.core.observe(started)  # the bot's own work ends where the reply call starts
        finally:
            if update is not None and update.callback_query is not None and not repeat:
                await self._answer(update)
        await self.deliver(bot, chat_id, replies, pressed)
        await self.sync_menu(bot, chat_id, menu)

    # ----------------------------------------------------------- replies
    async def deliver(
        self, bot: Bot, chat_id: int | str, replies: Sequence[Reply], pressed: Message | None = None
    ) -> None:
        """Send replies; a reply marked ``edit`` replaces the pressed message.
        When nothing replaces it, the pressed message loses its keyboard, so
        it cannot be pressed again."""
        plan = [(reply, render.render(reply)) for reply in replies]
        edit_at = None
        if pressed is not None:
            edit_at = next(
                (i for i, (r, msgs) in enumerate(plan) if r.edit and len(msgs) == 1), None
            )
            if edit_at is None:
                await self._drop_keyboard(bot, pressed)
        for i, (_, messages) in enumerate(plan):
            if i == edit_at and pressed is not None:
                if await self._edit(bot, pressed, messages[0]):
                    continue
                await self._drop_keyboard(bot, pressed)
            for message in messages:
                await bot.send_message(
                    chat_id,
                    message.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=message.markup,
                    link_preview_options=NO_PREVIEW,
                )

    async def _edit(self, bot: Bot, pressed: Message, message: render.Message) -> bool:
        try:
            await bot.edit_message_text(
                message.text,
                chat_id=pressed.chat.id,
                message_id=pressed.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=message.markup,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            log.info("could not edit a message in place (%s); sending it anew", exc)
            return False
        return True

    async def _drop_keyboard(self, bot: Bot, pressed: Message) -> None:
        if pressed.reply_markup is None or not pressed.reply_markup.inline_keyboard:
            return
        try:
            await bot.edit_message_reply_markup(
                chat_id=pressed.chat.id, message_id=pressed.message_id, reply_markup=None
            )
        except BadRequest as exc:  # too old, or already without buttons
            log.debug("could not remove a keyboard: %s", exc)

    async def _say(self, bot: Bot, chat_id: int, text: str) -> None:
        await bot.send_message(chat_id, render.escape(text), parse_mode=ParseMode.HTML)

    async def _answer(self, update: Update) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()
        except TelegramError as exc:  # too late (15 s): the press is still handled
            log.info("could not answer a button press: %s", exc)

    # -------------------------------------------------------- command menu
    async def set_default_menu(self, bot: Bot) -> None:
        """The menu of a chat not yet linked (help, link, verify)."""
        menu = await self.core.default_menu()
        await self._set_menu(bot, menu, BotCommandScopeDefault())

    async def sync_menu(self, bot: Bot, chat_id: int, menu: Menu) -> None:
        """A linked chat's menu lists what its person may do; it follows a
        link, an unlink or a change of role."""
        if self._menus.get(chat_id) == menu:
            return
        self._menus[chat_id] = menu  # also on failure: one try per change
        await self._set_menu(bot, menu, BotCommandScopeChat(chat_id))

    async def _set_menu(self, bot: Bot, menu: Menu, scope: BotCommandScope) -> None:
        try:
            await bot.set_my_commands(
                [BotCommand(name, summary[:256]) for name, summary in menu], scope=scope
            )
        except TelegramError as exc:
            self.warn_once("setMyCommands", f"the command menu could not be set: {exc}")

    def warn_once(self, topic: str, message: str) -> None:
        """An optional call that fails is worth one warning, not one per chat."""
        if topic in self._warned:
            log.debug(message)
            return
        self._warned.add(topic)
        log.warning("%s (the bot runs on without it)", message)
