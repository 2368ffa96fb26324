"""The Slack side of postbot (slack-bolt's AsyncApp): translates Slack payloads into core calls and
core results into Block Kit. Nothing here decides what gets scheduled or how."""

from adapters.slack.run import SlackRuntime, attach_slack_notifier, run_http, run_slack, run_socket_mode

__all__ = ["SlackRuntime", "attach_slack_notifier", "run_http", "run_slack", "run_socket_mode"]
