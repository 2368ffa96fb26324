"""What a Bluesky post can say beyond its text, as the post record and its video embed take it.

- ``langs``: "Indicates human language of post primary text content", at most 3 BCP-47 tags
  (``app.bsky.feed.post``, https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/post.json).
  Without it the record carries none and Bluesky guesses.
- ``alt``: "Alt text description of the video, for accessibility", at most 1,000 graphemes and
  10,000 bytes (``app.bsky.embed.video``, https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/video.json).
"""

from __future__ import annotations

from typing import Any

import regex

from core.platforms.options import Kind, Option

POST_LEXICON = "https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/post.json"
VIDEO_LEXICON = "https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/video.json"
MAX_LANGS = 3
ALT_MAX_GRAPHEMES = 1000
ALT_MAX_BYTES = 10_000
# A BCP-47 tag as people type them: a 2-3 letter language, then subtags ("en", "pt-BR", "zh-Hant").
_LANG = regex.compile(r"[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*")


def _check_langs(value: Any) -> str | None:
    tags = list(value)
    if len(tags) > MAX_LANGS:
        return f"Bluesky takes at most {MAX_LANGS} languages; {len(tags)} were given."
    bad = [t for t in tags if not _LANG.fullmatch(t)]
    if bad:
        return f"{', '.join(bad)} is not a language tag (like en, fr or pt-BR)."
    return None


def _check_alt(value: Any) -> str | None:
    text = str(value)
    count = len(regex.findall(r"\X", text))
    if count > ALT_MAX_GRAPHEMES:
        return f"it is {count} characters; Bluesky takes {ALT_MAX_GRAPHEMES}."
    if len(text.encode("utf-8")) > ALT_MAX_BYTES:
        return f"it is over {ALT_MAX_BYTES:,} bytes; Bluesky takes no more."
    return None


LANGS = Option(
    key="langs",
    flag="lang",
    label="Languages",
    kind=Kind.TAGS,
    default=None,
    help="the post's languages, comma-separated (en,fr; at most 3)",
    docs=POST_LEXICON,
    check=_check_langs,
)
ALT = Option(
    key="alt",
    flag="alt",
    label="Alt text",
    kind=Kind.TEXT,
    default=None,
    help='a description of the video for people who can\'t see it (quote it: --alt "...")',
    docs=VIDEO_LEXICON,
    check=_check_alt,
)

OPTIONS = (LANGS, ALT)
