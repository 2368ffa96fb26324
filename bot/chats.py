"""Which chats this process can talk to, from the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.wiring import App


async def attach_chat_notifiers(app: App) -> list[Callable[[], Awaitable[None]]]:
    """Register a REST-only notifier for every configured chat, so a worker reports every post.

    Returns the closers to await at shutdown.
    """
    closers: list[Callable[[], Awaitable[None]]] = []
    if app.settings.slack.bot_token is not None:
        from adapters.slack.run import attach_slack_notifier

        session = await attach_slack_notifier(app)
        closers.append(session.close)
    if app.settings.discord.token is not None:
        from adapters.discord.run import attach_rest_notifier

        client = await attach_rest_notifier(app)
        closers.append(client.close)
    return closers
