"""Media work with PyAV: probe latency, remux throughput and transcode speed, with peak memory.

    python -m bench.media [--size-mib 1024] [--seconds 60] [--probes 20] [--workdir DIR]

1. A real ~1 GiB H.264 MP4 laid out as phones write it (index at the end): two seconds of 1080p at
   40 Mbit/s encoded once, their packets repeated with shifted timestamps. The probe reads it
   ``--probes`` times headers only (what the scheduler does) and again with the first pictures
   decoded (what a newly received file gets); p50/p99 latency against the 50 ms target.
2. Remux of that file into a fast-start MP4 (what an Instagram post with the index at the end gets),
   beside a raw file copy of the same bytes (both with the page cache warm).
3. Transcode of a ``--seconds`` 1080p30 10-bit H.264 clip (what X refuses) to H.264/AAC 8-bit, as a
   multiple of real time, in one process as one conversion worker runs it.

Every measurement runs in a fresh child process, so each peak RSS is that step's own. The floors
printed beside the figures are what this project's 2-core machine should reach; a busy machine
(other suites running) reads slower.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
PROBE_P50_TARGET_MS = 50.0
# Floors: a remux at least a third of a raw copy's rate (it writes the file twice: the packets, then
# again to move the index to the front); a transcode at least real time with the default settings.
REMUX_RATIO_FLOOR = 0.33
TRANSCODE_SPEED_FLOOR = 1.0
RSS_CEILING_MIB = {"probe": 150, "copy": 100, "remux": 250, "transcode": 600}


def make_big_file(path: Path, size_mib: int) -> None:
    """A real H.264 MP4 of about ``size_mib`` MiB with its index at the end, as a phone writes it.

    Two seconds of 1080p30 are encoded at 40 Mbit/s (a phone's rate; grain that does not compress),
    then their packets are repeated with shifted timestamps: each repeat starts with a keyframe, so
    the result is a valid stream of realistic packets without encoding a quarter of an hour."""
    import av
    import numpy as np

    width, height, fps, gop = 1920, 1080, 30, 60
    rng = np.random.default_rng(7)
    ramp = np.tile(np.linspace(30, 220, width, dtype=np.float32), (height, 1))
    with av.open(str(path), "w", format="mp4") as out:
        options = {"preset": "ultrafast", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        stream = out.add_stream("libx264", rate=fps, options=options)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 40_000_000
        first: list[tuple[bytes, int, int, bool]] = []
        for i in range(gop):
            luma = np.clip(ramp + rng.normal(0, 10, (height, width)), 0, 255).astype(np.uint8)
            planes = np.concatenate([luma, np.full((height // 2, width), 128, np.uint8)])
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                first.append((bytes(packet), packet.pts or 0, packet.dts or 0, packet.is_keyframe))
                out.mux(packet)
        for packet in stream.encode(None):
            first.append((bytes(packet), packet.pts or 0, packet.dts or 0, packet.is_keyframe))
            out.mux(packet)
        per_round = sum(len(data) for data, *_ in first)
        time_base = stream.time_base
        ticks = round(gop / fps / time_base) if time_base else gop
        for r in range(1, max(1, round(size_mib * MiB / per_round))):
            for data, pts, dts, key in first:
                copy = av.Packet(data)
                copy.pts, copy.dts = pts + r * ticks, dts + r * ticks
                copy.time_base = time_base
                copy.is_keyframe = key
                copy.stream = stream
                out.mux(copy)


def make_transcode_source(path: Path, seconds: float) -> None:
    from core.media.sample import ClipSpec, encode_clip

    encode_clip(path, ClipSpec(duration_s=seconds, width=1920, height=1080, fps=30, pix_fmt="yuv420p10le"))


def _peak_rss_mib() -> float:
    """This process's own high-water mark (VmHWM): unlike ru_maxrss it does not start from the
    parent's size at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(step: str, source: str, dest: str, probes: int) -> dict[str, Any]:
    if step == "probe":
        from core.media.probe import probe_file

        probe_file(source)  # first read: FFmpeg's codec tables and the page cache, not the probe
        out: dict[str, Any] = {}
        for name, decode in (("header", False), ("decode", True)):
            times = []
            for _ in range(probes):
                started = time.perf_counter()
                facts = probe_file(source, decode=decode)
                times.append((time.perf_counter() - started) * 1000)
            assert facts.problem is None and facts.moov_first is False, facts
            out[name] = times
        out["rss_mib"] = _peak_rss_mib()
        return out
    started = time.perf_counter()
    if step == "copy":
        shutil.copyfile(source, dest)
    else:
        from core.media.convert import REMUX, Target, convert

        convert(source, dest, REMUX if step == "remux" else Target("h264"))
    return {"seconds": time.perf_counter() - started, "rss_mib": _peak_rss_mib()}


def run_child(step: str, source: Path, dest: Path, probes: int) -> tuple[dict[str, Any], float]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.media",
            "--child",
            step,
            str(source),
            str(dest),
            "--probes",
            str(probes),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    output, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed ({proc.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    return result, float(result["rss_mib"])


def _mark(ok: bool) -> str:
    return "ok" if ok else "BELOW"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the files here (default: a temp dir)"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.child[2], args.probes)), flush=True)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-media-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        big = work / "phone.mp4"
        if not big.exists():
            started = time.perf_counter()
            # In a child: the numpy pictures must not count in the parent (nor in later children).
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"from bench.media import make_big_file as m; from pathlib import Path; "
                    f"m(Path({str(big)!r}), {args.size_mib})",
                ],
                cwd=ROOT,
                check=True,
            )
            print(
                f"made {big.stat().st_size / MiB:.0f} MiB H.264 MP4 (index at the end) "
                f"in {time.perf_counter() - started:.0f} s"
            )
        size = big.stat().st_size

        probed, rss = run_child("probe", big, work / "unused", args.probes)
        for name, label in (("header", "headers only"), ("decode", "+ first pictures decoded")):
            times = sorted(probed[name])
            p50 = statistics.median(times)
            p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
            print(
                f"probe   {size / MiB:.0f} MiB file, {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms over "
                f"{len(times)} reads (target p50 < {PROBE_P50_TARGET_MS:.0f} ms: "
                f"{_mark(p50 < PROBE_P50_TARGET_MS)})"
            )
        print(
            f"probe   peak RSS {rss:.0f} MiB (ceiling {RSS_CEILING_MIB['probe']}: "
            f"{_mark(rss < RSS_CEILING_MIB['probe'])})"
        )

        copied, copy_rss = run_child("copy", big, work / "copy.mp4", 0)
        (work / "copy.mp4").unlink()
        copy_rate = size / MiB / copied["seconds"]
        remuxed, remux_rss = run_child("remux", big, work / "remuxed.mp4", 0)
        (work / "remuxed.mp4").unlink()
        remux_rate = size / MiB / remuxed["seconds"]
        ratio = remux_rate / copy_rate
        print(f"copy    {copy_rate:.0f} MiB/s, peak RSS {copy_rss:.0f} MiB")
        print(
            f"remux   {remux_rate:.0f} MiB/s = {ratio:.0%} of the raw copy "
            f"(floor {REMUX_RATIO_FLOOR:.0%}: {_mark(ratio >= REMUX_RATIO_FLOOR)}); "
            f"peak RSS {remux_rss:.0f} MiB (ceiling {RSS_CEILING_MIB['remux']}: "
            f"{_mark(remux_rss < RSS_CEILING_MIB['remux'])})"
        )

        clip = work / f"hdr-{args.seconds:g}s.mp4"
        if not clip.exists():
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"from bench.media import make_transcode_source as m; "
                    f"from pathlib import Path; m(Path({str(clip)!r}), {args.seconds})",
                ],
                cwd=ROOT,
                check=True,
            )
            print(
                f"made {args.seconds:g} s 1080p30 10-bit H.264 source "
                f"in {time.perf_counter() - started:.0f} s"
            )
        done, tx_rss = run_child("transcode", clip, work / "h264.mp4", 0)
        speed = args.seconds / done["seconds"]
        print(
            f"transcode {args.seconds:g} s 1080p30 -> H.264/AAC 8-bit: {done['seconds']:.1f} s "
            f"= {speed:.2f}x real time "
            f"(floor {TRANSCODE_SPEED_FLOOR:g}x: {_mark(speed >= TRANSCODE_SPEED_FLOOR)}); "
            f"peak RSS {tx_rss:.0f} MiB (ceiling {RSS_CEILING_MIB['transcode']}: "
            f"{_mark(tx_rss < RSS_CEILING_MIB['transcode'])})"
        )
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
