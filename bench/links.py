"""A video fetched from a link: throughput and memory of core.media.links.LinkFetcher.

    python -m bench.links                 # 300 MiB, 3 rounds
    python -m bench.links --mib 1024 --rounds 1

A local https host (tests/fakes/web_host.py) generates the video as it sends it, so neither side keeps
it in memory; the fetcher streams it through TLS, the address checks and the size cap into a media
store in a temporary folder (hashing it and probing it, as for any upload). Printed per round: wall
time, MiB/s, the fetching process's CPU seconds, and how much its peak RSS grew (it should not grow
with the file's size).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from core.config import LinkSettings
from core.domain import Platform
from core.media.links import LinkFetcher
from core.media.store import MediaStore
from tests.clips import encoded
from tests.fakes.web_host import WebHost

MIB = 1024 * 1024


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(mib: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="postbot-bench-links-") as folder:
        root = Path(folder)
        head = encoded().read_bytes()  # a real encoded clip; the host pads it with a free box
        async with WebHost(folder=root) as host:
            url = host.add_generated("bench.mp4", head, mib * MIB)
            fetcher = LinkFetcher(LinkSettings(allow_networks=["127.0.0.0/8"], ca_file=host.ca_pem))
            store = MediaStore(root / "media")
            for n in range(1, rounds + 1):
                rss_before = _peak_rss_mib()
                cpu_before = time.process_time()
                started = time.perf_counter()
                media = await fetcher.fetch(store, url, (Platform.YOUTUBE,))
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu_before
                assert media.size_bytes == mib * MIB
                Path(media.path).unlink()
                print(
                    f"round {n}: {mib} MiB in {wall:.2f} s = {mib / wall:.0f} MiB/s; "
                    f"CPU {cpu:.2f} s (host and fetcher share this process); "
                    f"peak RSS +{_peak_rss_mib() - rss_before:.0f} MiB"
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    asyncio.run(run(args.mib, args.rounds))


if __name__ == "__main__":
    main()
