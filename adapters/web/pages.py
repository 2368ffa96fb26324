"""The few HTML pages a person sees in the browser while linking an account."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

# The callback URL carries the authorization code: no referrer leaves these pages, nothing is cached.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · postbot</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.4rem}}</style></head>
<body><h1>{title}</h1><p>{body}</p></body></html>
"""


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _TEMPLATE.format(title=escape(title, quote=False), body=escape(body, quote=False)),
        status_code=status,
        headers=_HEADERS,
    )
