"""Discord adapter (discord.py): translates application commands and buttons into core calls."""

from adapters.discord.run import DiscordChat, DiscordReporter, use_api_base

__all__ = ["DiscordChat", "DiscordReporter", "use_api_base"]
