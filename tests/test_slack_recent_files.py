"""core.media.recent: which shared video a /schedule without a file uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.wiring import build_app
from core.config import Settings
from core.domain import ChatContext, ChatKind
from core.errors import MediaError
from core.media import recent
from tests.conftest import Database

WINDOW = timedelta(minutes=15)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def ctx(user: str = "U0ANA", channel: str = "C0LAUNCH") -> ChatContext:
    return ChatContext(chat=ChatKind.SLACK, team_id="T0POSTBOT", user_id=user, channel_id=channel)


async def test_the_newest_video_of_that_user_in_that_channel_within_the_window(
    settings: Settings, db: Database
) -> None:
    app = await build_app(settings, schema=db.schema)
    sessions, tz = app.sessions, settings.default_timezone

    async def share(
        file_id: str, at: datetime, *, user: str = "U0ANA", channel: str = "C0LAUNCH", **kw: object
    ) -> bool:
        fields: dict[str, object] = {
            "name": f"{file_id}.mp4",
            "mimetype": "video/mp4",
            "size_bytes": 1000,
            "download_url": f"https://files.example/{file_id}",
            "message_ts": f"{at.timestamp():.6f}",
            **kw,
        }
        return await recent.remember(
            sessions,
            ctx(user, channel),
            default_tz=tz,
            file_id=file_id,
            shared_at=at,
            **fields,  # type: ignore[arg-type]
        )

    try:
        assert await share("F_OLD", NOW - timedelta(minutes=20))
        with pytest.raises(MediaError, match="last 15 minutes"):
            await recent.latest(sessions, ctx(), window=WINDOW, now=NOW)

        assert await share("F_VIDEO", NOW - timedelta(minutes=5))
        # A screenshot after the video is not what anyone means to post.
        assert not await share("F_PNG", NOW - timedelta(minutes=2), name="shot.png", mimetype="image/png")
        assert await share("F_BEN", NOW - timedelta(minutes=1), user="U0BEN")
        assert await share("F_ELSEWHERE", NOW - timedelta(minutes=1), channel="C0OTHER")
        found = await recent.latest(sessions, ctx(), window=WINDOW, now=NOW)
        assert found.file_id == "F_VIDEO" and found.name == "F_VIDEO.mp4"

        # The file_shared report of the same file (ids only) fills gaps and never duplicates it.
        assert await recent.remember(
            sessions,
            ctx(),
            default_tz=tz,
            file_id="F_NEW",
            name="late.mov",
            mimetype=None,
            size_bytes=None,
            download_url=None,
            message_ts=None,
            shared_at=NOW - timedelta(minutes=1),
        )
        assert await share("F_NEW", NOW - timedelta(minutes=1), name="late.mov", mimetype="video/quicktime")
        found = await recent.latest(sessions, ctx(), window=WINDOW, now=NOW)
        assert found.file_id == "F_NEW" and found.mimetype == "video/quicktime" and found.size_bytes == 1000
        assert found.message_ts is not None
    finally:
        await app.close()
