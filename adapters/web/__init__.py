"""The small web server: OAuth link pages, /health, /metrics, and room for Slack's HTTP endpoint."""

from adapters.web.app import build_web_app
from adapters.web.server import WebServer

__all__ = ["WebServer", "build_web_app"]
