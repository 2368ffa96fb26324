"""The few HTML pages a person sees in the browser while linking an account."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

# The callback URL carries the authorization code: no referrer leaves these pages, nothing is cached.
# No page may be framed (a clickjacking page could make the confirmation button its own): the CSP
# says so to current browsers, X-Frame-Options to old ones.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · postbot</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.4rem}} button{{font-size:1rem;padding:.5rem 1rem}}</style></head>
<body><h1>{title}</h1><p>{body}</p>{extra}</body></html>
"""


def page(title: str, body: str, *, status: int = 200, extra_html: str = "") -> HTMLResponse:
    return HTMLResponse(
        _TEMPLATE.format(title=escape(title, quote=False), body=escape(body, quote=False), extra=extra_html),
        status_code=status,
        headers=HEADERS,
    )


def confirm_page(title: str, body: str, *, action: str, state: str, button: str) -> HTMLResponse:
    """``body`` and a button that POSTs ``state`` to ``action`` (our own start URL)."""
    form = (
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="state" value="{escape(state)}">'
        f'<button type="submit">{escape(button)}</button></form>'
    )
    return page(title, body, extra_html=form)
