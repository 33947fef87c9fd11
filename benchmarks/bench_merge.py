"""The merge against the work any tool must do (issue #17 item 5), before and after.

For each photo size, fresh child processes colorize one generated gray JPEG at a render size
exactly as ``colorizer colorize`` does (``bench_colorize.one_run``: read, tiles, merge,
atomic JPEG write), alternately with the merge as it was before issue #17
(``tests/merge_reference.py``) and with today's, so that the machine's load falls on both
alike. Reported per size: medians of each phase, the ratio

    whole run / (decode + network + encode)

(the issue's target: at most 1.5), and the peak RSS of each. Today's runs prepare the
output's memory on the spare core while the photo decodes, as ``colorize_file`` does; *wait*
is the time spent waiting for it after the decoding (part of the whole run, not of its
denominator). Usage::

    python benchmarks/bench_merge.py [--sizes 12 48 100] [--render 1024] [--repeats 3]
        [--precision auto|fp32|bf16]
    python benchmarks/bench_merge.py --cpu-time     # the merge alone, old and new, in-process

``--cpu-time`` times ``compose`` alone (old and new alternately, one process, the same
photo and a,b) in CPU time per pixel, all threads counted: on a shared machine CPU time
says more about the work done than wall time, which depends on how many cores are free.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_colorize import CACHE, make_photo, model_file, run_child  # noqa: E402


def cpu_time(sizes: list[int], render: int, repeats: int) -> None:
    """CPU ns per pixel of the old and the new ``compose`` (a gray 8-bit photo)."""
    import time

    import numpy as np

    from colorizer_app.engine.pipeline import compose, render_shape
    from tests.merge_reference import compose as old_compose

    print("| photo | old merge CPU ns/px | new merge CPU ns/px | old / new |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(0)
    for mp in sizes:
        height = int(round((mp * 1e6 / 1.5) ** 0.5))
        width = int(round(height * 1.5))
        pixels = rng.integers(0, 256, (height, width), dtype=np.uint8)
        ab = rng.uniform(-60, 60, (*render_shape(height, width, render), 2)).astype(np.float32)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(repeats):
            for name, merge in (("old", old_compose), ("new", compose)):
                start = time.process_time()
                merge(pixels, ab, 1.35)
                times[name].append((time.process_time() - start) / pixels.size * 1e9)
        old, new = (statistics.median(times[k]) for k in ("old", "new"))
        print(f"| {mp} MP ({width}x{height}) | {old:.1f} | {new:.1f} | **{old / new:.2f}** |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 48, 100])
    parser.add_argument("--render", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--cpu-time", action="store_true", help="the merge alone, CPU time")
    args = parser.parse_args()
    if args.cpu_time:
        cpu_time(args.sizes, args.render, args.repeats)
        return 0
    model = model_file(args.ngf)
    print(
        "| photo | merge | ran on | wall s | read s | wait s | network s | write s | tiling s "
        "| merge s | wall / (read + network + write) | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mp in args.sizes:
        photo = make_photo(mp, CACHE / f"photo-{mp}mp.jpg")
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for i in range(args.repeats):
            for merge in ("old", "new") if i % 2 == 0 else ("new", "old"):
                runs[merge].append(
                    run_child(photo, model, args.render, precision=args.precision, merge=merge)
                )
        for merge in ("old", "new"):
            timings = [r["timings"] for r in runs[merge]]
            med = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
            # the ratio run by run, then its median (not a ratio of medians)
            ratio = statistics.median(
                t["total"] / (t["read"] + t["network"] + t["write"]) for t in timings
            )
            h, w = runs[merge][0]["shape"][:2]
            print(
                f"| {mp} MP ({w}x{h}) | {merge} | {runs[merge][0]['ran_on']} | "
                f"{med['total']:.2f} | {med['read']:.2f} | {med['prepare']:.2f} | "
                f"{med['network']:.2f} | "
                f"{med['write']:.2f} | {med['tiling']:.2f} | {med['compose']:.2f} | "
                f"**{ratio:.2f}** | {max(r['peak_rss_mb'] for r in runs[merge]):.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
