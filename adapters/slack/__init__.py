"""The Slack side of postbot (slack-bolt's AsyncApp): translates Slack payloads into core calls and
core results into Block Kit. Nothing here decides what gets scheduled or how."""
