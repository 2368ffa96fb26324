"""Prometheus metrics, registered in the default registry that the web server exports at /metrics."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

POSTS_PROCESSED = Counter(
    "postbot_posts_processed_total",
    "Publish attempts by how they ended: published, failed (for good), retried (back in the queue "
    "with backoff) or deferred (held back by an open breaker or a rate limit, no attempt spent).",
    ["platform", "outcome"],
)

LATENESS = Histogram(
    "postbot_post_lateness_seconds",
    "How long after its scheduled time a post started publishing (first attempt only).",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)

PUBLISH_SECONDS = Histogram(
    "postbot_publish_duration_seconds",
    "Time spent in the platform publisher per attempt.",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0),
)

IN_FLIGHT = Gauge("postbot_posts_in_flight", "Posts this process is publishing right now.")

BREAKER_STATE = Gauge(
    "postbot_breaker_state",
    "Circuit breaker per platform account: 0 closed, 1 open, 2 half-open.",
    ["platform", "account"],
)

MEDIA_STORED_BYTES = Gauge(
    "postbot_media_stored_bytes",
    "Bytes of video in the media store (all processes; read from the database when scraped).",
)

MEDIA_CACHE_DOWNLOADS = Counter(
    "postbot_media_cache_downloads_total",
    "Whole videos this process copied from the bucket to its machine's cache (to probe and convert).",
)

WORKERS_ALIVE = Gauge(
    "postbot_workers_alive",
    "Scheduler processes whose heartbeat is recent (read from the database when scraped).",
)


@dataclass(frozen=True)
class PlatformMetrics:
    """The labelled children for one platform, looked up once (``labels()`` takes a lock per call)."""

    published: Any
    failed: Any
    retried: Any
    deferred: Any
    lateness: Any
    publish_seconds: Any


@functools.cache
def for_platform(platform: str) -> PlatformMetrics:
    return PlatformMetrics(
        published=POSTS_PROCESSED.labels(platform=platform, outcome="published"),
        failed=POSTS_PROCESSED.labels(platform=platform, outcome="failed"),
        retried=POSTS_PROCESSED.labels(platform=platform, outcome="retried"),
        deferred=POSTS_PROCESSED.labels(platform=platform, outcome="deferred"),
        lateness=LATENESS.labels(platform=platform),
        publish_seconds=PUBLISH_SECONDS.labels(platform=platform),
    )
