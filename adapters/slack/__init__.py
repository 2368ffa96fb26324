"""The Slack side of postbot (slack-bolt's AsyncApp): translates Slack payloads into core calls and
core results into Block Kit. Nothing here decides what gets scheduled or how."""

from adapters.slack.run import EVENTS_PATH, SlackChat, SlackReporter

__all__ = ["EVENTS_PATH", "SlackChat", "SlackReporter"]
