"""What an unauthenticated client can cost a real `postbot slack` process in HTTP mode.

    python -m bench.front_door                 # 4 parallel 256 MiB posts, then a 1 byte/s body
    python -m bench.front_door --parallel 8 --mib 512
    python -m bench.front_door --chunked       # no Content-Length: the cap counts streamed bytes

The process is started as an operator starts it (`python -m bot.cli slack`, SQLite, slack.mode=http,
default body cap and deadline) with its Web API pointed at a closed port (nothing here needs Slack
to answer). The client streams each body in 1 MiB pieces with a correct Content-Length and no valid
signature, as the attack in issue 11 did, and stops sending once the server has answered. Printed:
the server's resident memory before and at its peak (sampled from /proc every 20 ms), how many bytes
each client got to send before the answer, the status, and the time a 1 byte/s body holds a
connection. Only loopback is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start(env: dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "slack"], env=env, cwd=cwd)


async def _status(reader: asyncio.StreamReader) -> int:
    line = await reader.readline()
    return int(line.split()[1]) if line else 0


def _head(port: int, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


async def big_post(port: int, size: int, *, chunked: bool) -> tuple[int, int, float]:
    """(status, bytes sent before the answer, seconds)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_head(port, None if chunked else size))
    answer = asyncio.create_task(_status(reader))
    piece = b"%x\r\n%s\r\n" % (MIB, b"a" * MIB) if chunked else b"a" * MIB
    sent = 0
    try:
        while sent < size and not answer.done():
            writer.write(piece)
            try:
                await writer.drain()
            except ConnectionError:
                break
            sent += MIB
        status = await asyncio.wait_for(answer, 60)
    finally:
        writer.close()
    return status, sent, time.perf_counter() - started


async def slow_post(port: int, limit_s: float) -> tuple[int, float]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_head(port, 1000))
    answer = asyncio.create_task(_status(reader))
    try:
        while not answer.done() and time.perf_counter() - started < limit_s:
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(1.0)
        status = await asyncio.wait_for(answer, 5) if answer.done() else 0
    finally:
        writer.close()
    return status, time.perf_counter() - started


async def run(parallel: int, mib: int, slow_limit_s: float, chunked: bool) -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "POSTBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/postbot.db",
            "POSTBOT_DATA_DIR": f"{tmp}/data",
            "POSTBOT_SLACK__MODE": "http",
            "POSTBOT_SLACK__BOT_TOKEN": "xoxb-bench",
            "POSTBOT_SLACK__SIGNING_SECRET": "bench-signing-secret",
            "POSTBOT_SLACK__API_BASE_URL": f"http://127.0.0.1:{_free_port()}/api/",
            "POSTBOT_WEB__HOST": "127.0.0.1",
            "POSTBOT_WEB__PORT": str(port),
            "POSTBOT_LOG_LEVEL": "WARNING",
        }
        proc = _start(env, tmp)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"postbot slack exited with {proc.returncode}")
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("postbot slack did not start listening within 60 s") from None
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            before = _rss_mib(proc.pid)
            peak = before
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, _rss_mib(proc.pid))
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            posts = (big_post(port, mib * MIB, chunked=chunked) for _ in range(parallel))
            results = await asyncio.gather(*posts)
            elapsed = time.perf_counter() - started
            done.set()
            await sampler
            framing = "chunked, no length" if chunked else "Content-Length declared"
            print(f"{parallel} parallel {mib} MiB posts ({framing}) with a bad signature to /slack/events:")
            for status, sent, seconds in results:
                print(f"  HTTP {status} after {sent / MIB:.0f} MiB sent, {seconds * 1000:.0f} ms")
            print(f"  all answered in {elapsed * 1000:.0f} ms")
            print(f"  server RSS {before:.0f} MiB before, peak {peak:.0f} MiB")
            status, seconds = await slow_post(port, slow_limit_s)
            print(f"a body sent at 1 byte/s: HTTP {status or 'none'} after {seconds:.1f} s")
            print(f"server still up: {proc.poll() is None}; RSS now {_rss_mib(proc.pid):.0f} MiB")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--chunked", action="store_true", help="send without Content-Length")
    parser.add_argument("--slow-limit-s", type=float, default=40.0, help="give up on the slow body after")
    args = parser.parse_args()
    asyncio.run(run(args.parallel, args.mib, args.slow_limit_s, args.chunked))


if __name__ == "__main__":
    main()
