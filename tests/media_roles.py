"""The two sides of a multi-machine deployment, each run as its own process by the tests.

    python -m tests.media_roles chat <schema|-> <video>   store the video, queue a sandbox post
    python -m tests.media_roles worker <schema|-> <post>  run the scheduler until that post is done

Settings come from POSTBOT_* variables like any postbot process (each role is given its own
data_dir); ``schema`` pins PostgreSQL's search_path as the test database needs. Each prints one JSON
line with what it did.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.wiring import build_app
from core.config import load_settings
from core.db.models import ScheduledPost
from core.domain import ChatContext, ChatKind


async def chat(schema: str | None, video: str) -> dict[str, object]:
    app = await build_app(load_settings(), schema=schema)
    try:
        media = await app.media.import_file(video)
        ctx = ChatContext(chat=ChatKind.CONSOLE, team_id="T1", user_id="U1", channel_id="C1")
        outcome = await app.postbot.post_now(ctx, "sandbox Stored on one machine", media)
        return {"post": outcome.posts[0].id, "key": media.key, "local": media.path}
    finally:
        await app.close()


async def worker(schema: str | None, post_id: int) -> dict[str, object]:
    app = await build_app(load_settings(), schema=schema, worker_id="worker-on-another-machine")
    await app.start_scheduler()
    try:
        async with asyncio.timeout(60):
            while True:
                async with app.sessions() as session:
                    post = await session.get(ScheduledPost, post_id)
                    assert post is not None
                    if post.status in ("published", "failed"):
                        return {"status": post.status, "url": post.remote_url, "error": post.last_error}
                await asyncio.sleep(0.1)
    finally:
        await app.close()


def main() -> None:
    role, schema_arg, arg = sys.argv[1:4]
    schema = None if schema_arg == "-" else schema_arg
    if role == "chat":
        result = asyncio.run(chat(schema, str(Path(arg).resolve())))
    else:
        result = asyncio.run(worker(schema, int(arg)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
