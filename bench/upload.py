"""Upload throughput and memory: a 1 GiB file to the fake YouTube and TikTok servers on loopback.

Each fake runs in its own process (as the real platforms would be elsewhere), and each upload runs in
a fresh child process so its peak RSS is the publisher's own. The baseline is a raw loopback copy of
the same file: blocking ``sendall`` of 1 MiB reads to a process that only receives and counts.
The fakes count rather than hash in this run, so the ratio measures the HTTP and protocol overhead.

    python bench/upload.py [--size-mib 1024] [--chunk-mib 32] [--rounds 5] [--plain-fakes]

The fake servers run with larger glibc malloc thresholds so that the stand-in for the platform is not
what limits the upload (``--plain-fakes`` turns that off); the publisher runs untuned.

Targets (issue 4): peak RSS < 120 MiB for 1 GiB; throughput ≥ 70 % of the raw loopback copy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
TOKEN = "bench-token"
RSS_TARGET_MIB = 120
RATIO_TARGET = 0.70


# --- child: one measured upload ---------------------------------------------------------------------


class _Tokens:
    async def access_token(self) -> str:
        return TOKEN

    async def refresh(self) -> str:
        return TOKEN

    async def rejected(self) -> None:
        raise RuntimeError("the bench platform refused its own token")

    @property
    def account_id(self) -> str:
        return "bench"


async def _publish(platform: str, base_url: str, path: str, chunk: int, transport: str) -> dict[str, Any]:
    import httpx

    from core.domain import MediaInfo, Platform
    from core.platforms.tiktok.publisher import TikTokPublisher
    from core.platforms.youtube.publisher import YouTubePublisher
    from core.publishers.base import PublishJob
    from core.publishers.transport import make_client

    size = os.stat(path).st_size
    media = MediaInfo(path=path, sha256="bench", size_bytes=size, mime="video/mp4", duration_s=10.0)
    marks: dict[str, float] = {}

    async def save_state(state: dict[str, Any]) -> None:
        # The publishers checkpoint the session before the first chunk and again once the platform
        # holds every byte: the time between is the transfer alone, without init or status polls.
        if (state.get("session_uri") or state.get("upload_url")) and "transfer_start" not in marks:
            marks["transfer_start"] = time.perf_counter()
        if (state.get("video_id") or state.get("uploaded")) and "transfer_end" not in marks:
            marks["transfer_end"] = time.perf_counter()

    job = PublishJob(
        post_id=1,
        platform=Platform(platform),
        idempotency_key="bench",
        caption="bench #upload",
        title="bench",
        media=media,
        tokens=_Tokens(),
        save_state=save_state,
    )
    timeout = httpx.Timeout(60.0)
    # httpx: the app's client (bot/wiring.py); httpx-pool: httpx's stock transport, for comparison.
    client = make_client(timeout=timeout) if transport == "httpx" else httpx.AsyncClient(timeout=timeout)
    async with client as http:
        publisher: YouTubePublisher | TikTokPublisher
        if platform == "youtube":
            publisher = YouTubePublisher(http, base_url=base_url, chunk_size=chunk)
        else:
            publisher = TikTokPublisher(http, base_url=base_url, chunk_size=chunk, poll_interval_s=0.05)
        cpu = _cpu_s()
        started = time.perf_counter()
        result = await publisher.publish(job)
        elapsed = time.perf_counter() - started
        cpu = _cpu_s() - cpu
    transfer = marks["transfer_end"] - marks["transfer_start"]
    return {
        "remote_id": result.remote_id,
        "seconds": elapsed,
        "transfer_s": transfer,
        "bytes": size,
        "cpu_s": cpu,
    }


def _child_raw(port: int, path: str) -> dict[str, Any]:
    size = os.stat(path).st_size
    buf = bytearray(MiB)
    view = memoryview(buf)
    cpu = _cpu_s()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(path, "rb", buffering=0) as fh:
        sock.sendall(size.to_bytes(8, "big"))
        while n := fh.readinto(buf):
            sock.sendall(view[:n])
        ack = sock.recv(8)
    elapsed = time.perf_counter() - started
    assert int.from_bytes(ack, "big") == size, "the receiver did not get every byte"
    return {"seconds": elapsed, "bytes": size, "cpu_s": _cpu_s() - cpu}


def _cpu_s() -> float:
    """CPU seconds of this process so far, threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(args: argparse.Namespace) -> None:
    if args.child == "raw":
        out = _child_raw(int(args.target), args.file)
    else:
        out = asyncio.run(_publish(args.child, args.target, args.file, args.chunk_mib * MiB, args.transport))
    out["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(out), flush=True)


# --- receivers and fakes ------------------------------------------------------------------------------


def receiver_main(port_file: str) -> None:
    """Accept one connection, count what arrives, acknowledge the total."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        Path(port_file).write_text(str(server.getsockname()[1]))
        conn, _ = server.accept()
        with conn:
            head = b""
            while len(head) < 8:
                head += conn.recv(8 - len(head))
            expected = int.from_bytes(head, "big")
            cpu = _cpu_s()
            buf = bytearray(MiB)
            got = 0
            while got < expected:
                n = conn.recv_into(buf)
                if not n:
                    break
                got += n
            Path(port_file + ".cpu").write_text(str(_cpu_s() - cpu))
            conn.sendall(got.to_bytes(8, "big"))


# The fakes receive into a fresh 1 MiB bytes object per socket read; with glibc's default
# thresholds those come from new mmap'd pages, and faulting them in was half the fake's CPU
# (~0.15 of ~0.35 s/GiB, measured with perf). Raising the thresholds lets freed buffers be reused.
# Only the stand-in servers get this: the publisher is measured as it runs in production.
_FAKE_MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"


def _start_fake(module: str, *, tuned: bool = True) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ)
    if tuned:
        env["GLIBC_TUNABLES"] = _FAKE_MALLOC
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--token", TOKEN, "--count-only"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"{module} did not start: {line!r}")
    return proc, match.group(1)


def _fake_peak_rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_on_fake(
    platform: str, proc: subprocess.Popen[str], base: str, path: str, chunk_mib: int, transport: str
) -> dict[str, Any]:
    before = _proc_cpu_s(proc.pid)
    result = _run_child(platform, base, path, chunk_mib, transport)
    result["server_cpu_s"] = _proc_cpu_s(proc.pid) - before
    return result


def _run_child(kind: str, target: str, path: str, chunk_mib: int, transport: str = "httpx") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--target", target, "--file", path]
    cmd += ["--chunk-mib", str(chunk_mib), "--transport", transport]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} upload failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _raw_copy(path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        recv = subprocess.Popen([sys.executable, __file__, "--receiver", str(port_file)], cwd=ROOT)
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.01)
            result = _run_child("raw", port_file.read_text(), path, 0)
        finally:
            recv.wait(timeout=60)
        result["server_cpu_s"] = float(Path(str(port_file) + ".cpu").read_text())
        return result


def _cpu_per_gb(results: list[dict[str, Any]], *keys: str) -> float:
    """Median CPU seconds per GB moved (by default both ends together): a figure other load barely
    moves, unlike throughput on a shared machine."""
    keys = keys or ("cpu_s", "server_cpu_s")
    costs = sorted(sum(r[k] for k in keys) / (r["bytes"] / 1e9) for r in results)
    return float(costs[len(costs) // 2])


def _warm(path: str) -> None:
    """Read the file once so every measurement reads it from the page cache alike (the first read
    of a sparse file also has to allocate its zeroed pages)."""
    buf = bytearray(MiB)
    with open(path, "rb", buffering=0) as fh:
        while fh.readinto(buf):
            pass


def _median_mbps(results: list[dict[str, Any]]) -> float:
    rates = sorted(_mbps(r) for r in results)
    return rates[len(rates) // 2]


def _mbps(result: dict[str, Any]) -> float:
    return float(result["bytes"]) / 1e6 / float(result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="best of N for each measurement")
    parser.add_argument(
        "--plain-fakes",
        action="store_true",
        help="run the fake servers with glibc's default malloc thresholds (slower fakes)",
    )
    parser.add_argument(
        "--transports",
        nargs="+",
        choices=["httpx", "httpx-pool"],
        default=["httpx"],
        help="httpx: the app's client (core/publishers/transport.py); httpx-pool: httpx's stock one",
    )
    parser.add_argument("--transport", default="httpx", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver_main(args.receiver)
        return
    if args.child:
        child_main(args)
        return

    from tests.clips import sized_clip

    with tempfile.TemporaryDirectory(prefix="postbot-bench-") as tmp:
        path = str(sized_clip(Path(tmp) / "big.mp4", size_bytes=args.size_mib * MiB, fill="sparse"))
        print(
            f"file: {args.size_mib} MiB MP4 (a real clip, then a sparse free box), "
            f"chunk {args.chunk_mib} MiB, best of {args.rounds}"
        )
        _warm(path)
        fakes = {
            "youtube": _start_fake("tests.fakes.youtube_api", tuned=not args.plain_fakes),
            "tiktok": _start_fake("tests.fakes.tiktok_api", tuned=not args.plain_fakes),
        }
        kinds = [(p, t) for p in fakes for t in args.transports]
        names = {(p, t): p if t == "httpx" else f"{p} {t}" for p, t in kinds}
        runs: dict[str, list[dict[str, Any]]] = {"raw": [], **{names[k]: [] for k in kinds}}
        try:
            # Rounds interleave the three so that load from other processes hits them alike.
            for _ in range(args.rounds):
                runs["raw"].append(_raw_copy(path))
                for platform, transport in kinds:
                    proc, base = fakes[platform]
                    run = _run_on_fake(platform, proc, base, path, args.chunk_mib, transport)
                    runs[names[platform, transport]].append(run)
            fake_rss = {name: _fake_peak_rss_mib(proc.pid) for name, (proc, _) in fakes.items()}
        finally:
            for proc, _ in fakes.values():
                proc.terminate()
                proc.wait(timeout=10)
        raw = max(runs["raw"], key=_mbps)
        raw_cost = _cpu_per_gb(runs["raw"])
        print(
            f"raw loopback copy: {_mbps(raw):8.1f} MB/s   peak RSS {raw['peak_rss_mib']:6.1f} MiB   "
            f"CPU {raw_cost:.2f} s/GB (sender {_cpu_per_gb(runs['raw'], 'cpu_s'):.2f} + "
            f"receiver {_cpu_per_gb(runs['raw'], 'server_cpu_s'):.2f})"
        )
        failed = False
        for key in kinds:
            platform = names[key]
            best = max(runs[platform], key=_mbps)
            peak = max(r["peak_rss_mib"] for r in runs[platform])
            ratio = _mbps(best) / _mbps(raw)
            ok = peak < RSS_TARGET_MIB and ratio >= RATIO_TARGET
            failed |= not ok
            server = fake_rss[key[0]]
            fake_note = f"   fake server peak RSS {server:6.1f} MiB" if server is not None else ""
            cost = _cpu_per_gb(runs[platform])
            print(
                f"{platform:8s} publish:  {_mbps(best):8.1f} MB/s   peak RSS {peak:6.1f} MiB   "
                f"{ratio:6.1%} of raw   {'OK' if ok else 'MISSES TARGET'}{fake_note}"
            )
            median = _median_mbps(runs[platform]) / _median_mbps(runs["raw"])
            print(
                f"{'':8s}           median of rounds {median:.0%} of raw; CPU {cost:.2f} s/GB "
                f"(publisher {_cpu_per_gb(runs[platform], 'cpu_s'):.2f} + fake server "
                f"{_cpu_per_gb(runs[platform], 'server_cpu_s'):.2f}): raw needs {raw_cost / cost:.0%} of that"
            )
            transfer = best["bytes"] / 1e6 / best["transfer_s"]
            print(
                f"{'':8s}           of the best round: chunks alone {transfer:.1f} MB/s "
                f"({transfer / _mbps(raw):.1%} of raw); init, status polls and the rest "
                f"{(best['seconds'] - best['transfer_s']) * 1000:.0f} ms"
            )
        all_rates = {k: [round(_mbps(r)) for r in v] for k, v in runs.items()}
        print(f"every round (MB/s): {all_rates}")
        print(f"targets: peak RSS < {RSS_TARGET_MIB} MiB, >= {RATIO_TARGET:.0%} of raw loopback")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
