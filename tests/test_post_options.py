"""Per-post options and the account a post goes out as (issue 18): typed in a command, refused with
the allowed values before anything is queued, stored with the post and seen in the platform fake's
request (whose field names come from each API's documentation, cited in the fakes)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import discord.http
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from adapters.discord import DiscordChat
from adapters.slack.run import EVENTS_PATH, SlackChat
from bot.wiring import App, build_app
from core.accounts.store import save_tokens
from core.config import DiscordSettings, PlatformSettings, Settings, SlackSettings, VaultSettings
from core.db.models import AccountDefault, RecentFile, ScheduledPost, SocialAccount, Team
from core.domain import ChatKind, Platform
from core.errors import UserError
from core.oauth.models import TokenSet
from core.platforms import chosen
from core.timeparse.command import Pick, parse_command, take_flags
from tests.conftest import Database
from tests.fakes.discord_api import EPHEMERAL, FakeDiscord, FakeGuild, FakeUser
from tests.fakes.discord_api import Interaction as DiscordInteraction
from tests.fakes.linkedin_api import FakeLinkedIn
from tests.fakes.slack_api import FakeSlack, LoopbackServer, SlackSender
from tests.fakes.tiktok_api import FakeTikTok
from tests.fakes.youtube_api import FakeYouTube

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


# --- the grammar ----------------------------------------------------------------------------------


def test_the_short_form_reads_platform_values_handles_and_trailing_options() -> None:
    flags = take_flags("tomorrow 6pm youtube:unlisted,tiktok:friends My caption --tags a,b --kids no")
    assert flags.pairs == (("tags", "a,b"), ("kids", "no"))
    command = parse_command(flags.text, "UTC", NOW)
    assert command.platforms == (Platform.YOUTUBE, Platform.TIKTOK)
    assert command.picks == {Platform.YOUTUBE: Pick("unlisted"), Platform.TIKTOK: Pick("friends")}
    assert command.caption == "My caption"

    flags = take_flags("--kids yes tomorrow 6pm yt@Brand:private, ig Part 2: the -- return --cover 1500")
    command = parse_command(flags.text, "UTC", NOW)
    assert flags.pairs == (("kids", "yes"), ("cover", "1500"))
    assert command.picks == {Platform.YOUTUBE: Pick("private", "Brand")}
    assert command.platforms == (Platform.YOUTUBE, Platform.INSTAGRAM)
    assert command.caption == "Part 2: the -- return"


@pytest.mark.parametrize(
    ("text", "caption"),
    [
        # Dashes and colons in a caption are caption: only a complete run of pairs at an end is options.
        ("tomorrow 6pm yt Launch --tonight", "Launch --tonight"),
        ("tomorrow 6pm yt Launch --tonight, really: yes", "Launch --tonight, really: yes"),
        ("tomorrow 6pm yt x: the story -- part 1", "x: the story -- part 1"),
        ("tomorrow 6pm yt The —best— day", "The —best— day"),
    ],
)
def test_captions_with_colons_and_dashes_stay_captions(text: str, caption: str) -> None:
    flags = take_flags(text)
    assert flags.pairs == ()
    assert parse_command(flags.text, "UTC", NOW).caption == caption


def test_a_quoted_caption_for_one_platform() -> None:
    flags = take_flags('tomorrow yt,x Launch day --x-caption "Launch: it\'s out -- go" --tags a')
    assert flags.pairs == (("x-caption", "Launch: it's out -- go"), ("tags", "a"))
    command = parse_command(flags.text, "UTC", NOW)
    found = chosen.resolve(command.platforms, command.picks, flags.pairs)
    assert found.captions == {Platform.X: "Launch: it's out -- go"}
    assert found.options == {Platform.YOUTUBE: {"tags": ["a"]}}


def _resolve(text: str) -> chosen.Chosen:
    flags = take_flags(text)
    command = parse_command(flags.text, "UTC", NOW)
    return chosen.resolve(command.platforms, command.picks, flags.pairs)


def test_values_are_read_per_platform_with_the_allowed_ones_listed_when_wrong() -> None:
    found = _resolve(
        "tomorrow yt:unlisted,tt:friends,li:connections,ig Hi --kids no --tags a,#b,a --category gaming "
        "--comments off --duet no --feed no --cover 1500"
    )
    assert found.problems == {}
    assert found.options == {
        Platform.YOUTUBE: {
            "privacy": "unlisted",
            "made_for_kids": False,
            "tags": ["a", "b"],
            "category_id": "20",
        },
        Platform.TIKTOK: {
            "privacy": "friends",
            "disable_comment": True,
            "disable_duet": True,
            "cover_timestamp_ms": 1500,
        },
        Platform.LINKEDIN: {"visibility": "connections"},
        Platform.INSTAGRAM: {"share_to_feed": False, "thumb_offset": 1500},
    }
    # One word for several platforms is checked against each.
    found = _resolve("tomorrow yt,tiktok Hi --privacy unlisted")
    assert found.options == {Platform.YOUTUBE: {"privacy": "unlisted"}}
    assert found.problems == {
        "tiktok": ["'unlisted' is not a TikTok privacy. Use one of: public, friends, followers, private."]
    }
    assert _resolve("tomorrow youtube:friends Hi").problems == {
        "youtube": ["'friends' is not a YouTube privacy. Use one of: public, unlisted, private."]
    }
    assert "yes or no" in _resolve("tomorrow yt Hi --kids maybe").problems["youtube"][0]
    assert (
        "takes 500"
        in _resolve("tomorrow yt Hi --tags " + ",".join(f"t{i}" + "x" * 48 for i in range(10))).problems[
            "youtube"
        ][0]
    )
    assert "means nothing" in _resolve("tomorrow yt,x:loud Hi").problems["x"][0]


def test_tiktok_privacy_is_chosen_by_the_author_with_no_default() -> None:
    """TikTok's Direct Post UX guidelines: the privacy level has no default value
    (https://developers.tiktok.com/doc/content-sharing-guidelines)."""
    found = _resolve("tomorrow yt,tiktok Hi")
    assert found.problems == {
        "tiktok": [
            "choose the privacy yourself (TikTok sets no default): tiktok:<privacy> or "
            "--tiktok-privacy <privacy>, one of: public, friends, followers, private."
        ]
    }
    assert _resolve("tomorrow yt,tiktok:private Hi").problems == {}
    assert _resolve("tomorrow yt,tiktok Hi --tiktok-privacy followers").problems == {}


def test_tiktok_commercial_content_disclosure_is_a_per_post_option() -> None:
    found = _resolve("tomorrow tiktok:public Hi --branded yes --own-brand yes")
    assert found.problems == {}
    assert found.options[Platform.TIKTOK] == {
        "privacy": "public",
        "brand_content_toggle": True,
        "brand_organic_toggle": True,
    }
    # "Branded content visibility cannot be set to private" (content-sharing guidelines).
    private = _resolve("tomorrow tiktok:private Hi --tiktok-branded yes").problems["tiktok"]
    assert private == [
        "branded content cannot be private on TikTok: choose another privacy, or leave out --tiktok-branded."
    ]
    assert _resolve("tomorrow tiktok:private Hi --own-brand yes").problems == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tomorrow yt Hi --best day", "There is no option --best. Options for YouTube: --privacy, --kids"),
        ("tomorrow ig Hi --kids no", "--kids is a YouTube option; this post does not go there"),
        ("tomorrow yt Hi --tiktok-privacy friends", "--tiktok-privacy is for TikTok"),
        ("tomorrow yt Hi --caption hello", "Say which platform that caption is for"),
        ("tomorrow yt Hi --youtube-loud yes", "YouTube has no option --loud"),
    ],
)
def test_an_option_no_chosen_platform_takes_is_refused(text: str, says: str) -> None:
    with pytest.raises(UserError) as caught:
        _resolve(text)
    assert says in str(caught.value)


# --- through the console, the real scheduler and the platform fakes --------------------------------


def _jpeg(size: tuple[int, int] = (64, 36)) -> bytes:
    """A real JPEG, encoded by PyAV's mjpeg encoder."""
    frame = av.VideoFrame(*size, "yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = size[0], size[1], "yuvj420p"
    codec.time_base = Fraction(1, 25)
    data = b"".join(bytes(p) for p in codec.encode(frame)) + b"".join(bytes(p) for p in codec.encode(None))
    assert data.startswith(b"\xff\xd8\xff")
    return data


@dataclass
class World:
    app: App
    console: ConsoleAdapter
    youtube: FakeYouTube
    tiktok: FakeTikTok
    linkedin: FakeLinkedIn
    out: list[str]

    async def posts(self) -> list[ScheduledPost]:
        async with self.app.sessions() as session:
            return list((await session.execute(select(ScheduledPost).order_by(ScheduledPost.id))).scalars())

    async def wait_published(self, count: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while sum(line.startswith("Published #") for line in self.out) < count:
                failed = [line for line in self.out if "failed" in line]
                assert not failed, failed
                await asyncio.sleep(0.05)


async def link(app: App, chat: str, team: str, platform: str, accounts: list[tuple[str, str, str]]) -> None:
    """Linked accounts as the OAuth flow stores them: (remote id, display name, access token)."""
    assert app.accounts is not None
    async with app.sessions.begin() as session:
        row = (
            await session.execute(select(Team).where(Team.chat == chat, Team.external_id == team))
        ).scalar_one_or_none()
        if row is None:
            row = Team(chat=chat, external_id=team, name="team")
            session.add(row)
            await session.flush()
        for remote, name, token in accounts:
            account = SocialAccount(
                team_id=row.id, platform=platform, remote_account_id=remote, display_name=name
            )
            session.add(account)
            await session.flush()
            tokens = TokenSet(
                access_token=token,
                refresh_token=f"r-{token}",
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
            save_tokens(account, tokens, app.accounts.vault)


def configure(settings: Settings, youtube: FakeYouTube, tiktok: FakeTikTok, linkedin: FakeLinkedIn) -> None:
    settings.secret_key = SecretStr("test-vault-secret-with-enough-entropy-0123456789")
    settings.vault = VaultSettings(iterations=100_000)
    secret = SecretStr("s")
    settings.platforms.youtube = PlatformSettings(
        client_id="yt", client_secret=secret, base_url=youtube.base_url
    )
    settings.platforms.tiktok = PlatformSettings(
        client_id="tt", client_secret=secret, base_url=tiktok.base_url
    )
    settings.platforms.linkedin = PlatformSettings(
        client_id="li", client_secret=secret, base_url=linkedin.base_url, chunk_size_bytes=4 * 1024 * 1024
    )


@pytest.fixture
async def world(settings: Settings, db: Database) -> AsyncIterator[World]:
    async with (
        FakeYouTube(tokens={"tok-brand": "UC_brand", "tok-me": "UC_me"}) as youtube,
        FakeTikTok(tokens={"tok-tt": "open-tt"}) as tiktok,
        FakeLinkedIn(tokens={"tok-li": "urn:li:person:li1"}) as linkedin,
    ):
        configure(settings, youtube, tiktok, linkedin)
        app = await build_app(settings, schema=db.schema, worker_id="w1")
        out: list[str] = []
        app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
        await link(
            app,
            "console",
            "local",
            "youtube",
            [("UC_brand", "@brand", "tok-brand"), ("UC_me", "@ana", "tok-me")],
        )
        await link(app, "console", "local", "tiktok", [("open-tt", "postbot_team", "tok-tt")])
        await link(app, "console", "local", "linkedin", [("urn:li:person:li1", "Ana", "tok-li")])
        try:
            yield World(app, ConsoleAdapter(app.postbot, user="ana"), youtube, tiktok, linkedin, out)
        finally:
            await app.close()


async def test_each_option_reaches_the_platform_and_the_post_goes_to_the_named_account(
    world: World, clip: Path, tmp_path: Path
) -> None:
    w = world
    thumb = tmp_path / "thumb.jpg"
    thumb.write_bytes(_jpeg())
    await w.app.start_scheduler()
    reply = await w.console.handle(
        f"/post youtube@brand:unlisted,tiktok:followers,linkedin:connections Launch day: it's out -- watch "
        f"--tags launch,demo --kids yes --category gaming --comments off --stitch off --duet off "
        f"--tiktok-caption 'Launch day on TikTok' --file {clip} --thumbnail {thumb}"
    )
    assert reply.startswith("Publishing clip.mp4 to YouTube, TikTok, LinkedIn now."), reply
    # The reply says what differs from each platform's defaults.
    assert "#1 YouTube (@brand, privacy unlisted, made for kids yes, tags launch,demo, category 20, " in reply
    assert "thumbnail attached)" in reply
    assert "#2 TikTok (@postbot_team, privacy followers, comments no, duet no, stitch no)" in reply
    assert "#3 LinkedIn (@Ana, visibility connections)" in reply
    await w.wait_published(3)

    # YouTube: the brand channel, not the more recently linked personal one.
    [video] = w.youtube.videos.values()
    assert video.channel_id == "UC_brand"
    assert video.resource["status"]["privacyStatus"] == "unlisted"
    assert video.resource["status"]["selfDeclaredMadeForKids"] is True
    assert video.resource["snippet"]["tags"] == ["launch", "demo"]
    assert video.resource["snippet"]["categoryId"] == "20"
    assert video.resource["snippet"]["title"] == "Launch day: it's out -- watch"
    assert video.thumbnail is not None and video.thumbnail == _sha(thumb.read_bytes())

    [upload] = w.tiktok.uploads.values()
    assert upload.post_info["privacy_level"] == "FOLLOWER_OF_CREATOR"
    assert upload.post_info["disable_comment"] is True
    assert upload.post_info["disable_duet"] is True and upload.post_info["disable_stitch"] is True
    assert upload.post_info["title"] == "Launch day on TikTok"

    [post] = w.linkedin.posts.values()
    assert post.body["visibility"] == "CONNECTIONS"
    assert post.shown_text == "Launch day: it's out -- watch"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_bad_option_is_refused_before_queueing_with_the_allowed_values(
    world: World, clip: Path, tmp_path: Path
) -> None:
    w = world
    reply = await w.console.handle(f"/schedule tomorrow 6pm youtube:friends,tiktok:unlisted Hi --file {clip}")
    assert "youtube: 'friends' is not a YouTube privacy. Use one of: public, unlisted, private." in reply
    assert (
        "tiktok: 'unlisted' is not a TikTok privacy. Use one of: public, friends, followers, private."
        in reply
    )
    reply = await w.console.handle(f"/schedule tomorrow 6pm youtube@nobody Hi --file {clip}")
    assert "no YouTube account @nobody is linked (linked: youtube@ana, youtube@brand)" in reply
    reply = await w.console.handle(f"/schedule tomorrow 6pm tiktok:public Hi --cover 15000 --file {clip}")
    assert "past the video's end" in reply
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))
    reply = await w.console.handle(f"/schedule tomorrow 6pm youtube Hi --file {clip} --thumbnail {big}")
    assert (
        "the thumbnail is 2.1 MB; YouTube takes an attached JPEG or PNG image of at most 2.09715 MB" in reply
    )
    gif = tmp_path / "x.gif"
    gif.write_bytes(b"GIF89a" + bytes(100))
    reply = await w.console.handle(f"/schedule tomorrow 6pm youtube Hi --file {clip} --thumbnail {gif}")
    assert "x.gif is not a JPEG or PNG" in reply
    reply = await w.console.handle(f"/schedule tomorrow 6pm tiktok:public Hi --file {clip} --thumbnail {gif}")
    assert "None of this post's platforms takes an attached image" in reply
    async with w.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ScheduledPost)) == 0


async def test_tiktok_creator_info_is_checked_before_the_post_is_queued(world: World, clip: Path) -> None:
    """TikTok's Direct Post flow reads creator_info before the post is made: a privacy level the
    account does not offer, or a video longer than it may post, is refused when scheduling, not
    hours later when the post falls due."""
    w = world
    w.tiktok.creator["privacy_level_options"] = ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    reply = await w.console.handle(f"/schedule tomorrow 6pm tiktok:public Hi --file {clip}")
    assert "tiktok: @postbot_team does not offer the privacy 'public': it offers followers, private." in reply
    w.tiktok.creator["max_video_post_duration_sec"] = 10
    reply = await w.console.handle(f"/schedule tomorrow 6pm youtube,tiktok:followers Hi --file {clip}")
    assert "this TikTok account can post videos of up to 10 s; this one is 12 s: trim it." in reply
    async with w.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ScheduledPost)) == 0
    asked = [r for r in w.tiktok.requests if "creator_info" in r.path]
    assert len(asked) == 2, "asked once per command, with the linked account's token"

    w.tiktok.creator["max_video_post_duration_sec"] = 600
    reply = await w.console.handle(f"/schedule tomorrow 6pm tiktok:followers Hi --file {clip}")
    assert "✗" not in reply, reply
    [tt] = await w.posts()
    assert tt.options == {"privacy": "followers"}


async def test_the_queue_shows_options_that_differ_from_the_defaults(world: World, clip: Path) -> None:
    w = world
    await w.console.handle(f"/schedule tomorrow 6pm youtube:public,tiktok:friends Hi --kids no --file {clip}")
    listing = await w.console.handle("/queue")
    # privacy public is YouTube's default: not worth a word; "made for kids: no" is a declaration.
    # TikTok has no default privacy (its UX guidelines): the one chosen is always shown.
    [yt_line] = [line for line in listing.splitlines() if "YouTube" in line]
    assert "· @ana, made for kids no ·" in yt_line, listing
    assert "privacy" not in yt_line
    [tt_line] = [line for line in listing.splitlines() if "TikTok" in line]
    assert "privacy friends" in tt_line, listing
    [yt, tt] = await w.posts()
    assert yt.options == {"privacy": "public", "made_for_kids": False} and tt.options == {
        "privacy": "friends"
    }
    # Without a handle, the most recently linked account.
    assert yt.account_id is not None


async def test_an_admin_sets_the_channels_default_account_and_accounts_lists_them_all(
    world: World, clip: Path
) -> None:
    w = world
    listing = await w.console.handle("/accounts")
    # The personal channel was linked last: without a default, posts go there.
    assert "• YouTube: @ana (default here: youtube@ana)" in listing, listing
    assert "• YouTube: @brand —" in listing
    assert "• TikTok: postbot_team —" in listing  # one account: nothing to choose
    assert "platform@handle" in listing

    said = await w.console.handle("/default youtube @Brand")
    assert (
        said
        # The console has no channels: its default is its own (issue 23).
        == "YouTube posts from this console now go to youtube@brand unless a command names another account."
    )
    assert "• YouTube: @brand (default here: youtube@brand)" in await w.console.handle("/accounts")
    await w.console.handle(f"/schedule tomorrow 6pm youtube Hi --file {clip}")
    await w.console.handle(f"/schedule tomorrow 7pm youtube@ana Hi --file {clip}")
    first, second = await w.posts()
    async with w.app.sessions() as session:
        names = {a.id: a.display_name for a in (await session.execute(select(SocialAccount))).scalars()}
    assert names[first.account_id] == "@brand" and names[second.account_id] == "@ana"

    assert (
        "No YouTube account @nobody is linked (linked: youtube@ana, youtube@brand)"
        in await w.console.handle("/default youtube@nobody")
    )
    assert "Which YouTube account?" in await w.console.handle("/default youtube")
    member = replace(w.console.ctx, user_id="ben", is_admin=False)
    with pytest.raises(UserError, match="Only an admin can choose the channel's default account"):
        await w.app.postbot.set_default_account(member, "youtube@ana")
    # A member still sees the list, with the default for the channel they ask in.
    views = await w.app.postbot.accounts(member)
    assert [v.handle for v in views if v.default_here and v.platform is Platform.YOUTUBE] == ["brand"]
    elsewhere = await w.app.postbot.accounts(replace(member, channel_id="other"))
    assert [v.handle for v in elsewhere if v.default_here and v.platform is Platform.YOUTUBE] == ["ana"]


# --- through the real slack_sdk / bolt against the fake Slack ------------------------------------


@dataclass
class SlackWorld:
    slack: FakeSlack
    sender: SlackSender
    app: App
    youtube: FakeYouTube

    async def hook(self, contains: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.slack.wait_for(
            lambda: next((h for h in self.slack.hooks if contains in h.get("text", "")), None)
        )
        return found

    async def shared_clip(self, user: str, clip: Path) -> None:
        upload = self.slack.add_file(user, CHANNEL, clip)
        await self.sender.share_file(user, CHANNEL, upload, "")
        async with asyncio.timeout(10):
            while True:
                async with self.app.sessions() as session:
                    row = (
                        await session.execute(select(RecentFile).where(RecentFile.file_id == upload.id))
                    ).scalar_one_or_none()
                if row is not None and row.size_bytes is not None:
                    return
                await asyncio.sleep(0.02)


ANA, BEN, CHANNEL = "U0ANA", "U0BEN", "C0LAUNCH"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
async def slack_world(settings: Settings, db: Database) -> AsyncIterator[SlackWorld]:
    async with (
        FakeSlack() as slack,
        FakeYouTube(tokens={"tok-brand": "UC_brand", "tok-me": "UC_me"}) as youtube,
        FakeTikTok() as tiktok,
        FakeLinkedIn() as linkedin,
    ):
        slack.add_user(ANA, "ana", tz="America/New_York")
        slack.add_user(BEN, "ben", tz="Europe/Berlin", is_admin=True)
        slack.add_channel(CHANNEL, "launch")
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            signing_secret=SecretStr(SLACK_SECRET),
            mode="http",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
            recent_file_window_s=900,
        )
        configure(settings, youtube, tiktok, linkedin)
        app = await build_app(settings, schema=db.schema, worker_id="w1")
        await link(
            app,
            "slack",
            slack.team_id,
            "youtube",
            [("UC_brand", "@brand", "tok-brand"), ("UC_me", "@ana", "tok-me")],
        )
        chat = SlackChat(app.postbot, app.http, bot_token=slack.bot_token, signing_secret=SLACK_SECRET)
        app.notifier.register(chat.kind, chat.notifier())
        try:
            async with LoopbackServer(chat.asgi()) as server, httpx.AsyncClient(timeout=10) as http:
                sender = SlackSender(slack, server.url + EVENTS_PATH, SLACK_SECRET, http)
                yield SlackWorld(slack, sender, app, youtube)
        finally:
            await chat.stop()
            await app.close()
            await chat.close()


@sqlite_only
async def test_slack_options_reach_youtube_on_the_chosen_account(slack_world: SlackWorld, clip: Path) -> None:
    w = slack_world
    await w.app.start_scheduler()
    await w.shared_clip(ANA, clip)
    await w.sender.command(
        "/post",
        "youtube@brand:unlisted Launch day: part 2 -- out now --tags launch,demo --kids yes --category music",
        user=ANA,
        channel=CHANNEL,
    )
    published = await w.slack.wait_for(
        lambda: next((m for m in w.slack.posted(CHANNEL) if m["text"].startswith("Published #1")), None)
    )
    assert "youtube.com/watch" in published["text"]
    [video] = w.youtube.videos.values()
    assert video.channel_id == "UC_brand"
    assert video.resource["status"]["privacyStatus"] == "unlisted"
    assert video.resource["status"]["selfDeclaredMadeForKids"] is True
    assert video.resource["snippet"]["tags"] == ["launch", "demo"]
    assert video.resource["snippet"]["categoryId"] == "10"
    assert video.resource["snippet"]["title"] == "Launch day: part 2 -- out now"


@sqlite_only
async def test_slack_refuses_a_bad_option_with_the_allowed_values_before_downloading(
    slack_world: SlackWorld, clip: Path
) -> None:
    w = slack_world
    await w.shared_clip(ANA, clip)
    await w.sender.command("/schedule", "tomorrow 6pm youtube:friends Hi", user=ANA, channel=CHANNEL)
    hook = await w.hook("is not a YouTube privacy")
    assert "Use one of: public, unlisted, private." in hook["text"]
    await w.sender.command("/schedule", "tomorrow 6pm youtube Hi --loud yes", user=ANA, channel=CHANNEL)
    hook = await w.hook("There is no option --loud")
    assert "--privacy, --kids, --tags, --category" in hook["text"]
    assert w.slack.downloads == []
    async with w.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ScheduledPost)) == 0


@sqlite_only
async def test_slack_post_refuses_a_bad_option_before_downloading(
    slack_world: SlackWorld, clip: Path
) -> None:
    """`/post` reads its options before it fetches the video, as `/schedule` does. Mutation (issue 29):
    Postbot.post_now fetching the video before reading its options passed every test, since only
    `/schedule` was checked for downloads."""
    w = slack_world
    await w.shared_clip(ANA, clip)
    await w.sender.command("/post", "youtube:friends Hi", user=ANA, channel=CHANNEL)
    hook = await w.hook("is not a YouTube privacy")
    assert "Use one of: public, unlisted, private." in hook["text"]
    await w.sender.command("/post", "youtube Hi --loud yes", user=ANA, channel=CHANNEL)
    hook = await w.hook("There is no option --loud")
    assert w.slack.downloads == []
    async with w.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ScheduledPost)) == 0


@sqlite_only
async def test_slack_admin_sets_the_channel_default_and_accounts_shows_it(
    slack_world: SlackWorld, clip: Path
) -> None:
    w = slack_world
    await w.sender.command("/postbot", "default youtube@brand", user=ANA, channel=CHANNEL)
    await w.hook("Only an admin can choose the channel's default account")
    await w.sender.command("/postbot", "default youtube@brand", user=BEN, channel=CHANNEL)
    await w.hook("YouTube posts from this channel now go to youtube@brand")
    await w.sender.command("/postbot", "accounts", user=ANA, channel=CHANNEL)
    listing = await w.hook("Linked accounts")
    assert "@brand (default here: youtube@brand)" in listing["text"]
    await w.shared_clip(ANA, clip)
    await w.sender.command("/schedule", "tomorrow 6pm youtube Hi", user=ANA, channel=CHANNEL)
    reply = await w.slack.wait_for(
        lambda: next((m for m in w.slack.posted(CHANNEL) if "#1 YouTube" in str(m)), None)
    )
    assert "@brand" in str(reply)


@sqlite_only
async def test_the_slack_modal_picks_day_time_platforms_and_options(
    slack_world: SlackWorld, clip: Path
) -> None:
    w = slack_world
    upload = w.slack.add_file(ANA, CHANNEL, clip, name="teaser.mp4")
    message = w.sender.user_message(ANA, CHANNEL, "Teaser", [upload])
    await w.sender.message_shortcut("schedule_this_post", user=ANA, channel=CHANNEL, message=message)
    opened = await w.slack.wait_for(lambda: w.slack.views)
    [view] = opened.values()
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    assert by_id["when_date"]["element"]["type"] == "datepicker"
    assert by_id["when_time"]["element"]["type"] == "timepicker"
    where = {o["value"]: o["description"]["text"] for o in by_id["platforms"]["element"]["options"]}
    assert where["youtube"] == "linked" and where["sandbox"] == "needs no account"
    # The command as Slack has it: new installs have no /link, only /postbot link.
    assert where["tiktok"] == "not linked: an admin runs /postbot link tiktok"
    # Option fields for the linked platform, with its defaults selected; none for unlinked ones.
    privacy = by_id["opt:youtube-privacy"]["element"]
    assert privacy["initial_option"]["value"] == "public"
    assert [o["value"] for o in privacy["options"]] == ["public", "unlisted", "private"]
    assert "opt:youtube-kids" in by_id and not [b for b in by_id if str(b).startswith("opt:tiktok")]

    def values(tags: str, **extra: Any) -> dict[str, Any]:
        picked = {
            "when_date": {"date": {"type": "datepicker", "selected_date": "2026-12-24"}},
            "when_time": {"time": {"type": "timepicker", "selected_time": "18:30"}},
            "platforms": {
                "platforms_selected": {
                    "type": "checkboxes",
                    "selected_options": [
                        {"text": {"type": "plain_text", "text": "YouTube"}, "value": "youtube"}
                    ],
                }
            },
            "caption": {"caption_text": {"type": "plain_text_input", "value": "Teaser: part 2 --tags nope"}},
            "opt:youtube-privacy": {
                "opt:youtube-privacy": {
                    "type": "static_select",
                    "selected_option": _option(privacy, "unlisted"),
                }
            },
            "opt:youtube-kids": {
                "opt:youtube-kids": {
                    "type": "static_select",
                    "selected_option": _option(by_id["opt:youtube-kids"]["element"], "no"),
                }
            },
            "opt:youtube-tags": {"opt:youtube-tags": {"type": "plain_text_input", "value": tags}},
        }
        return picked | extra

    # Within the field's 500 characters (Slack refuses more before submitting), over YouTube's 500 as
    # YouTube counts them: quotes around each tag that has a space.
    spaced = ",".join(f"t {i:02d}" for i in range(90))
    assert len(spaced) <= 500
    bad = await w.sender.submit_view(view["id"], user=ANA, values=values(spaced))
    assert bad.json()["response_action"] == "errors"
    assert "YouTube takes 500" in bad.json()["errors"]["opt:youtube-tags"]
    both = values("a", when={"when_text": {"type": "plain_text_input", "value": "tomorrow"}})
    assert (
        "not both" in (await w.sender.submit_view(view["id"], user=ANA, values=both)).json()["errors"]["when"]
    )
    ok = await w.sender.submit_view(view["id"], user=ANA, values=values("launch,teaser"))
    assert ok.status_code == 200 and ok.content == b""
    reply = await w.slack.wait_for(
        lambda: next((m for m in w.slack.posted(CHANNEL) if "#1 YouTube" in str(m)), None)
    )
    assert "privacy unlisted" in str(reply)
    async with w.app.sessions() as session:
        [post] = (await session.execute(select(ScheduledPost))).scalars()
    # The form's caption is never read for options; the pickers were read in Ana's zone.
    assert post.caption == "Teaser: part 2 --tags nope"
    assert post.options == {"privacy": "unlisted", "made_for_kids": False, "tags": ["launch", "teaser"]}
    assert post.run_at == datetime(2026, 12, 24, 23, 30, tzinfo=UTC)


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in element["options"] if o["value"] == value)
    return found


# --- through the real discord.py against the fake Discord -----------------------------------------


@dataclass
class DiscordWorld:
    fake: FakeDiscord
    guild: FakeGuild
    channel_id: str
    alice: FakeUser
    app: App
    youtube: FakeYouTube
    tiktok: FakeTikTok

    async def run(self, payload: dict[str, Any]) -> DiscordInteraction:
        record = await self.fake.send_interaction(payload)
        await self.fake.wait_for(lambda: len(record.followups) + len(record.answers) >= 1)
        return record

    async def complete(self, values: dict[str, Any], focused: str) -> list[dict[str, Any]]:
        payload = self.fake.autocomplete_interaction(
            "schedule", values, focused, user=self.alice, guild=self.guild
        )
        record = await self.fake.send_interaction(payload)
        await self.fake.wait_for(lambda: record.callback)
        assert record.callback is not None
        choices: list[dict[str, Any]] = record.callback["data"]["choices"]
        return choices


@pytest.fixture
async def discord_world(settings: Settings, db: Database) -> AsyncIterator[DiscordWorld]:
    original_base = discord.http.Route.BASE
    async with (
        FakeDiscord() as fake,
        FakeYouTube(tokens={"tok-brand": "UC_brand", "tok-me": "UC_me"}) as youtube,
        FakeTikTok(tokens={"tok-tt": "open-tt"}) as tiktok,
        FakeLinkedIn() as linkedin,
    ):
        guild = fake.add_guild("launch crew")
        channel_id = next(iter(guild.channels))
        settings.discord = DiscordSettings(
            token=SecretStr(fake.token), api_base_url=fake.api_base_url, guild_ids=[guild.id]
        )
        configure(settings, youtube, tiktok, linkedin)
        app = await build_app(settings, schema=db.schema, worker_id="w1")
        channels = [("UC_brand", "@brand", "tok-brand"), ("UC_me", "@ana", "tok-me")]
        await link(app, "discord", guild.id, "youtube", channels)
        await link(app, "discord", guild.id, "tiktok", [("open-tt", "postbot_team", "tok-tt")])
        runtime = DiscordChat(app.postbot, app.http, token=fake.token, guild_ready_timeout=0.05)
        app.notifier.register(runtime.kind, runtime.notifier())
        await runtime.start()
        await fake.wait_connected()
        try:
            yield DiscordWorld(fake, guild, channel_id, fake.add_user("alice"), app, youtube, tiktok)
        finally:
            await runtime.close()
            await app.close()
    discord.http.Route.BASE = original_base


async def test_discord_options_reach_youtube_and_tiktok_on_the_chosen_account(
    discord_world: DiscordWorld, clip: Path
) -> None:
    w = discord_world
    commands = {c["name"]: c for c in w.fake.guild_commands[w.guild.id]}
    options = {o["name"]: o for o in commands["schedule"]["options"]}
    assert options["privacy"]["autocomplete"] and options["account"]["autocomplete"]
    assert options["options"]["autocomplete"] and options["thumbnail"]["type"] == 11
    await w.app.start_scheduler()
    video = w.fake.upload_attachment(w.channel_id, clip.name, clip.read_bytes())
    jpeg = _jpeg()
    thumb = w.fake.upload_attachment(w.channel_id, "thumb.jpg", jpeg)
    payload = w.fake.command_interaction(
        "post",
        {
            "platforms": "youtube, tiktok",
            "video": video,
            "caption": "Launch: part 2 --tags nope",
            "privacy": "youtube:unlisted, tiktok:friends",
            "account": "youtube@brand",
            "options": "--tags launch,demo --kids yes --comments off",
            "thumbnail": thumb,
        },
        user=w.alice,
        guild=w.guild,
    )
    await w.run(payload)
    await w.fake.wait_for(lambda: len(w.youtube.videos) == 1 and w.tiktok.published, timeout=30)
    [video_row] = w.youtube.videos.values()
    assert video_row.channel_id == "UC_brand"
    assert video_row.resource["status"]["privacyStatus"] == "unlisted"
    assert video_row.resource["status"]["selfDeclaredMadeForKids"] is True
    assert video_row.resource["snippet"]["tags"] == ["launch", "demo"]
    assert video_row.resource["snippet"]["description"] == "Launch: part 2 --tags nope"
    await w.fake.wait_for(lambda: video_row.thumbnail is not None)
    assert video_row.thumbnail == hashlib.sha256(jpeg).hexdigest()
    [upload] = w.tiktok.uploads.values()
    assert upload.post_info["privacy_level"] == "MUTUAL_FOLLOW_FRIENDS"
    assert upload.post_info["disable_comment"] is True


async def test_discord_autocompletes_privacy_accounts_and_options(discord_world: DiscordWorld) -> None:
    w = discord_world
    base = {"when": "tomorrow 6pm", "platforms": "youtube,tiktok"}
    privacy = await w.complete({**base, "privacy": "youtube:unlisted, "}, "privacy")
    assert [c["value"] for c in privacy] == [
        "youtube:unlisted,tiktok:public",
        "youtube:unlisted,tiktok:friends",
        "youtube:unlisted,tiktok:followers",
        "youtube:unlisted,tiktok:private",
    ]
    assert privacy[1]["name"] == "youtube:unlisted, TikTok: Friends (mutual followers)"
    accounts = await w.complete({**base, "account": "bra"}, "account")
    assert [(c["name"], c["value"]) for c in accounts] == [("YouTube @brand", "youtube@brand")]
    names = await w.complete({**base, "options": "--ki"}, "options")
    assert [c["value"] for c in names] == ["--kids "]
    values = await w.complete({**base, "options": "--kids "}, "options")
    assert [c["value"] for c in values] == ["--kids yes", "--kids no"]


async def test_discord_refuses_a_bad_option_with_the_allowed_values(
    discord_world: DiscordWorld, clip: Path
) -> None:
    w = discord_world
    video = w.fake.upload_attachment(w.channel_id, clip.name, clip.read_bytes())
    payload = w.fake.command_interaction(
        "schedule",
        {"when": "tomorrow 6pm", "platforms": "youtube", "video": video, "privacy": "friends"},
        user=w.alice,
        guild=w.guild,
    )
    record = await w.run(payload)
    [error] = w.fake.followup_messages(record)
    assert error["flags"] & EPHEMERAL
    assert "'friends' is not a YouTube privacy. Use one of: public, unlisted, private." in error["content"]
    # Refused before the video was fetched, and nothing queued.
    assert w.fake.cdn_requests == []
    async with w.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ScheduledPost)) == 0


async def test_the_fakes_refuse_a_misspelt_field(http: httpx.AsyncClient) -> None:
    """So a publisher that sent a wrong field name would fail here, not pass unnoticed."""
    async with FakeYouTube(tokens={"tok": "UC_x"}) as youtube, FakeTikTok(tokens={"tok": "open"}) as tiktok:
        headers = {
            "Authorization": "Bearer tok",
            "X-Upload-Content-Length": "10",
            "X-Upload-Content-Type": "video/mp4",
        }
        for part, body in (
            ("snippet", {"title": "t", "tag": ["a"]}),
            ("status", {"privacyStatus": "public", "selfDeclaredMadeForKid": True}),
        ):
            resource = {"snippet": {"title": "t"}, "status": {}} | {part: body}
            answer = await http.post(
                f"{youtube.base_url}/upload/youtube/v3/videos",
                params={"uploadType": "resumable", "part": "snippet,status"},
                json=resource,
                headers=headers,
            )
            assert answer.status_code == 400 and "Unknown name" in answer.text
        answer = await http.post(
            f"{tiktok.base_url}/v2/post/publish/video/init/",
            json={
                "post_info": {"title": "t", "privacy_level": "SELF_ONLY", "disable_comments": True},
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": 10,
                    "chunk_size": 10,
                    "total_chunk_count": 1,
                },
            },
            headers={"Authorization": "Bearer tok"},
        )
        assert answer.status_code == 400 and "disable_comments is not a known field" in answer.text


async def test_discord_default_sets_the_channels_account(discord_world: DiscordWorld, clip: Path) -> None:
    w = discord_world
    manage_guild = 1 << 5
    w.guild.granted_commands.add("postbot-admin")  # Integrations: everyone may run it
    member = w.fake.command_interaction(
        "postbot-admin default", {"account": "youtube@brand"}, user=w.alice, guild=w.guild
    )
    refused = w.fake.original(await w.run(member))
    assert refused is not None and refused["flags"] & (1 << 6)
    assert "Only an admin can choose the channel's default account" in refused["content"]
    admin = w.fake.command_interaction(
        "postbot-admin default",
        {"account": "youtube@brand"},
        user=w.alice,
        guild=w.guild,
        permissions=manage_guild,
    )
    record = await w.run(admin)
    message = w.fake.original(record)
    assert (
        message is not None
        and "YouTube posts from this channel now go to youtube@brand" in message["content"]
    )
    payload = w.fake.autocomplete_interaction(
        "postbot-admin default", {"account": "you"}, "account", user=w.alice, guild=w.guild
    )
    sent = await w.fake.send_interaction(payload)
    await w.fake.wait_for(lambda: sent.callback)
    assert sent.callback is not None
    assert [c["name"] for c in sent.callback["data"]["choices"]] == [
        "YouTube @brand (default here)",
        "YouTube @ana",
    ]


async def test_unlink_one_of_two_accounts_by_handle(world: World) -> None:
    w = world
    await w.console.handle("/default youtube@brand")
    outcome = await w.app.postbot.unlink(w.console.ctx, Platform.YOUTUBE, "@brand")
    assert outcome.names == ["@brand"]
    listing = await w.console.handle("/accounts")
    assert "• YouTube: @ana —" in listing and "@brand" not in listing
    with pytest.raises(UserError, match=r"No YouTube account @nobody is linked \(linked: youtube@ana\)"):
        await w.app.postbot.unlink(w.console.ctx, Platform.YOUTUBE, "nobody")
    # The channel's default went with the account: posts go to the one left.
    async with w.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AccountDefault)) == 0
