"""The schema. Migrations in migrations/versions create it; keep the two in step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.db.types import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Team(Base):
    """A Slack workspace, a Discord guild or the local console."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("chat", "external_id", name="uq_teams_chat_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("team_id", "external_id", name="uq_users_team_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[Team] = relationship()


class SocialAccount(Base):
    """A linked platform account; tokens are AES-GCM ciphertexts from core.crypto, never plain."""

    __tablename__ = "social_accounts"
    __table_args__ = (
        UniqueConstraint("team_id", "platform", "remote_account_id", name="uq_accounts_team_platform_remote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    remote_account_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(32))
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scopes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_error: Mapped[str | None] = mapped_column(Text)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AccountDefault(Base):
    """The account a channel's posts go out as on a platform where the team linked several (set by
    an admin; without one, the most recently linked active account)."""

    __tablename__ = "account_defaults"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "platform", name="uq_account_defaults_channel_platform"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id", ondelete="CASCADE"))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OAuthState(Base):
    """A single-use, expiring link an admin was DMed to connect an account."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Only a hash of the state is stored: a database read cannot be replayed as a link.
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    pkce_verifier_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # SHA-256 of the nonce in the cookie of the first browser that opened the link (core/accounts/binding.py).
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MediaAsset(Base):
    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # The storage key (core/media/storage): relative, "ab/abcd….mp4"; rows older than the storage
    # interface hold an absolute path, which the local backend still reads.
    path: Mapped[str] = mapped_column(Text, index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str | None] = mapped_column(String(300))
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


_HOLDING = "content_key IS NOT NULL AND status IN ('queued', 'running', 'awaiting')"


class ScheduledPost(Base):
    """One post on one platform. The row is the source of truth: a restart loses nothing."""

    __tablename__ = "scheduled_posts"
    __table_args__ = (
        Index("ix_posts_due", "status", "due_at"),
        Index("ix_posts_team_status", "team_id", "status", "run_at"),
        # Added by migration 0009 (why: its docstring; figures: bench/scale.py).
        Index("ix_posts_team_status_updated", "team_id", "status", "updated_at"),
        Index("ix_posts_platform_run", "platform", "run_at"),
        Index("ix_posts_media", "media_id"),
        # Migration 0017: one upcoming post per (channel, platform, video) among those that asked
        # for it (``content_key``, core/store/posts.py), so two racing commands can't both queue it.
        Index(
            "uq_posts_once",
            "team_id",
            "content_key",
            unique=True,
            postgresql_where=text(_HOLDING),
            sqlite_where=text(_HOLDING),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("social_accounts.id", ondelete="SET NULL"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id"))
    # Posts created by one command share a batch, so replies can speak of them together.
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    caption: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str | None] = mapped_column(String(300))
    # When the user wants it out (UTC); what lateness is measured against.
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When a worker should next pick it up: run_at, or later after a retry backoff or an open breaker.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_hint: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 of (channel, platform, the video's sha256) for a post that must not be queued twice
    # (several videos at once, core/service/batches.py); None for the rest.
    content_key: Mapped[str | None] = mapped_column(String(64))
    upload_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What the author set for this platform beyond the caption (core/platforms/options.py):
    # {key: value}, only the options given; the publisher reads it as ``PublishJob.options``.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    origin_channel: Mapped[str | None] = mapped_column(String(64))
    origin_thread: Mapped[str | None] = mapped_column(String(64))
    # The bot's reply to the command that queued the post (Slack channel + ts, Discord channel +
    # message id): live upload progress is shown under it (core/progress.py).
    reply_channel: Mapped[str | None] = mapped_column(String(64))
    reply_message: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped by every claim: the fencing token a worker's writes must still match (core/store/queue.py).
    lease_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once the outcome reached the chat, so a notifier outage is retried, not forgotten.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    metrics_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Approval (migration 0014): who approved and when (chat user ids), or who rejected and why.
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_by: Mapped[str | None] = mapped_column(String(64))
    review_note: Mapped[str | None] = mapped_column(Text)
    # A /post awaiting approval: it goes out when approved, whatever its time says by then.
    on_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # Bumped by every change an approver must see again (a move, a return to awaiting; migration
    # 0018): a request carries the revision it showed, and a decision on an older one is refused.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    team: Mapped[Team] = relationship()
    author: Mapped[User] = relationship()
    media: Mapped[MediaAsset] = relationship()
    account: Mapped[SocialAccount | None] = relationship()


class ApprovalRule(Base):
    """A channel whose posts need an approver's yes (/postbot approval on). ``approvers`` is a list
    of {"kind": "user"|"group", "id": ...}; empty: the team's admins."""

    __tablename__ = "approval_rules"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_approval_rules_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    approvers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    delivery: Mapped[str] = mapped_column(String(8), default="thread")
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApprovalRequest(Base):
    """One approval request message postbot sent (a thread reply, a DM copy), per post it shows: once
    none of its posts awaits any more, a process that reaches its chat redraws it as decided and the
    rows go (core/store/approval_requests.py). ``lease_until``: a process is redrawing it."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_id", "post_id", name="uq_approval_requests_copy"),
        Index("ix_approval_requests_post", "post_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # Slack: the channel or DM id and the message's ts; Discord: the channel or DM id and message id.
    channel_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    post_id: Mapped[int] = mapped_column(ForeignKey("scheduled_posts.id", ondelete="CASCADE"))
    # The post's revision the message shows (its buttons carry it).
    revision: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PostResult(Base):
    """A post's numbers at one checkpoint after publishing (core/scheduler/results.py): due, claimed
    by a worker like a due post, then read (or not available, or failed)."""

    __tablename__ = "post_results"
    __table_args__ = (
        UniqueConstraint("post_id", "checkpoint_s", name="uq_post_results_post_checkpoint"),
        Index("ix_post_results_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("scheduled_posts.id", ondelete="CASCADE"))
    # Seconds after publishing (3600, 86400, 604800 by default).
    checkpoint_s: Mapped[int] = mapped_column(Integer)
    # due | claimed | read | unavailable | failed
    state: Mapped[str] = mapped_column(String(16), default="due")
    # When a worker should next try: the checkpoint, or later after a backoff or an open breaker.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why there are no numbers (the platform's words, or the scopes the account lacks).
    note: Mapped[str | None] = mapped_column(Text)
    # The chat message showing the post's readings (the same on every row of the post), edited as
    # each checkpoint is read (migration 0013).
    message_channel: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))


ALL_PLATFORMS = "*"


class PublishingPause(Base):
    """A team's publishing held by an admin (/pause): its due posts stay queued until /resume.

    ``platform`` is one platform's name, or ``*`` for all of them.
    """

    __tablename__ = "publishing_pauses"
    __table_args__ = (UniqueConstraint("team_id", "platform", name="uq_pauses_team_platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecentFile(Base):
    """Files users shared in chat, so a later /schedule (which carries no file) can find its video."""

    __tablename__ = "recent_files"
    __table_args__ = (
        Index("ix_recent_files_lookup", "team_id", "channel_id", "user_external_id", "shared_at"),
        UniqueConstraint("team_id", "file_id", name="uq_recent_files_team_file"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    user_external_id: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(300))
    mimetype: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    download_url: Mapped[str | None] = mapped_column(Text)
    message_ts: Mapped[str | None] = mapped_column(String(64))
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MediaBlob(Base):
    """One stored object (a video under its content key), whatever number of posts share it.

    ``referenced_at`` is bumped before a chat side stores or reuses the object, in its own committed
    transaction, so retention (core/media/retention.py) never takes an object a new post is about
    to point at.
    """

    __tablename__ = "media_blobs"
    # Added by migration 0009: retention reads only the videos unused for its period.
    __table_args__ = (Index("ix_media_blobs_referenced", "referenced_at"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    referenced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkerHeartbeat(Base):
    """When each scheduler process was last alive; /health reads these."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(BigInteger, default=0)
    # Set when the worker stopped on purpose (a signal, the end of the console): it left, it did
    # not die; seen_at is then the time it stopped.
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RateBucket(Base):
    """A per-(platform, account) token bucket shared by every worker (core/store/buckets.py).

    ``updated`` is the database server's clock (epoch seconds), so workers on machines whose
    clocks differ still refill one bucket at one rate.
    """

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)


class BreakerRecord(Base):
    """A circuit breaker shared by every worker: open until ``open_until`` (server epoch seconds)."""

    __tablename__ = "breaker_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[float] = mapped_column(Float, default=0.0)
    # Set while one worker's probe is out after the open interval (half-open), until this time.
    probe_until: Mapped[float] = mapped_column(Float, default=0.0)


class AlertGate(Base):
    """Whether the fleet has alerted about a (chat, team, platform), and when it last did
    (core/store/alerts.py): the worker whose conditional write flips it is the one that speaks."""

    __tablename__ = "alert_gates"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    alerting: Mapped[bool] = mapped_column(Boolean, default=False)
    # The database server's clock, epoch seconds.
    last_alert: Mapped[float] = mapped_column(Float, default=0.0)


class PostingSlot(Base):
    """One weekly slot of a channel's posting schedule: a weekday and a wall-clock time, read in the
    team's zone when placed on the calendar (core/schedule), so it keeps its hour across DST."""

    __tablename__ = "posting_slots"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "platform", "weekday", "minute", name="uq_posting_slots"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # "" where the chat has no channels (the console).
    channel_id: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlotClaim(Base):
    """A slot instant taken by a post placed with ``next``: the unique key is what keeps two commands
    at once off the same slot. A claim whose post was cancelled, failed or moved is stale and is
    dropped by the next command that wants the slot (core/schedule/store.py)."""

    __tablename__ = "slot_claims"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "platform", "slot_at", name="uq_slot_claims_slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set in the transaction that claims it, once the post exists.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResultsDigest(Base):
    """A channel's weekly results digest (/postbot digest <day> <HH:MM>): when, in the team's zone.
    No row: off. Set by an admin; ``since`` keeps a slot that passed before it was set from going out."""

    __tablename__ = "results_digests"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_results_digests_team_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    # 0 Monday … 6 Sunday, and minutes after midnight, in the team's zone.
    weekday: Mapped[int] = mapped_column(Integer)
    minute: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The last week whose digest failed for good (its slot) and why, in the chat's words, for
    # /digest to show; cleared when one is sent or the digest is set again.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(Text)
    # When the admins were told that the channel became unreachable: once per breakage, so a
    # channel that stays unreachable does not bring a message every week. Cleared with the failure.
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DigestSend(Base):
    """One digest's send for one period (the ISO week of its slot in the team's zone). The unique key is the
    once-only gate: every worker may try to insert the row, one succeeds and sends; a claim whose
    worker vanished is taken over when its lease runs out, a sent one never again."""

    __tablename__ = "digest_sends"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "period", name="uq_digest_sends_team_channel_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    # The ISO week of the slot in the team's zone, "2026-W50".
    period: Mapped[str] = mapped_column(String(10))
    # claimed | sent | failed
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
