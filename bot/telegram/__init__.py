"""The Telegram front end (python-telegram-bot): private chats, inline
keyboards, long polling or a webhook. ``create(app, engine)`` builds it for
the running process; ``hubbot telegram`` runs it."""

from bot.telegram.frontend import TelegramFrontEnd, TelegramRefused, create

__all__ = ["TelegramFrontEnd", "TelegramRefused", "create"]
