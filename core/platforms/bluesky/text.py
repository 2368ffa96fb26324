"""A Bluesky post's text: its length in graphemes and its rich-text facets.

- ``app.bsky.feed.post`` text: ``maxGraphemes: 300``, ``maxLength: 3000`` (UTF-8 bytes)
  (https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/post.json). A grapheme
  is what a reader sees as one character (an emoji with skin tone or a flag is one); the ``regex``
  module's ``\\X`` matches one extended grapheme cluster (Unicode UAX #29), which the standard
  library has no way to count.
- Facets (https://docs.bsky.app/docs/advanced-guides/post-richtext): links
  (``app.bsky.richtext.facet#link``), mentions (``#mention``, with the DID the handle resolves to)
  and hashtags (``#tag``), each over a range of UTF-8 *byte* offsets, start inclusive, end
  exclusive; facets may not overlap. The patterns follow that page's reference parsers: a mention is
  ``@`` + a handle (https://atproto.com/specs/handle#handle-identifier-syntax) after the start, a
  space or ``(``; a link is ``http(s)://`` + non-space, trailing ``.,;!?`` (and an unbalanced ``)``)
  left out; a tag is ``#`` + a non-digit, non-space start, trailing punctuation left out, at most 64
  characters after the ``#``. A handle that resolves to no DID stays plain text, as the page does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import regex

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_TAG_CHARS = 64

_GRAPHEME = regex.compile(r"\X")
_MENTION = regex.compile(
    r"(?:^|\s|\()(@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?))"
    r"(?![\w.-])"
)
_LINK = regex.compile(r"(?:^|\s|\()(https?://\S+)")
_TAG = regex.compile(r"(?:^|\s)(#[^\d\s]\S*)")
_TRAILING_PUNCT = regex.compile(r"\p{P}+$")


def graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


@dataclass(frozen=True)
class Span:
    start: int  # code point index
    end: int
    kind: str  # "mention", "link", "tag"
    value: str  # handle, uri or tag


def spans(text: str) -> list[Span]:
    """Candidate facets in text order, overlaps dropped (the earlier one kept)."""
    found: list[Span] = []
    for m in _MENTION.finditer(text):
        found.append(Span(m.start(1), m.end(1), "mention", m.group(2).lower()))
    for m in _LINK.finditer(text):
        uri, start = m.group(1), m.start(1)
        if uri[-1] in ".,;!?":
            uri = uri[:-1]
        if uri.endswith(")") and "(" not in uri:
            uri = uri[:-1]
        found.append(Span(start, start + len(uri), "link", uri))
    for m in _TAG.finditer(text):
        tag = _TRAILING_PUNCT.sub("", m.group(1))
        if 1 < len(tag) <= MAX_TAG_CHARS + 1:
            found.append(Span(m.start(1), m.start(1) + len(tag), "tag", tag[1:]))
    kept: list[Span] = []
    for span in sorted(found, key=lambda s: (s.start, -s.end)):
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


async def facets(text: str, resolve: Callable[[str], Awaitable[str | None]]) -> list[dict[str, Any]]:
    """The record's ``facets``; ``resolve`` turns a handle into its DID (None: leave it as text)."""
    out: list[dict[str, Any]] = []
    dids: dict[str, str | None] = {}
    for span in spans(text):
        if span.kind == "mention":
            if span.value not in dids:
                dids[span.value] = await resolve(span.value)
            did = dids[span.value]
            if did is None:
                continue
            feature: dict[str, Any] = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        elif span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        out.append(
            {
                "index": {
                    "byteStart": _byte_offset(text, span.start),
                    "byteEnd": _byte_offset(text, span.end),
                },
                "features": [feature],
            }
        )
    return out
