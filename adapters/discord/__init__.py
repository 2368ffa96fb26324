"""Discord adapter (discord.py): translates application commands and buttons into core calls."""

from adapters.discord.run import DiscordRuntime, run_discord, use_api_base

__all__ = ["DiscordRuntime", "run_discord", "use_api_base"]
