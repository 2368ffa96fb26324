"""Discord adapter (discord.py): translates application commands and buttons into core calls."""

from adapters.discord.run import DiscordRuntime, attach_rest_notifier, run_discord, use_api_base

__all__ = ["DiscordRuntime", "attach_rest_notifier", "run_discord", "use_api_base"]
