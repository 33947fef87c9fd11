"""Throughput of ``colorize --cluster`` against the single-machine batch (issue #17 item 3).

One folder of generated gray scans (JPEG, ``--megapixels`` each) is colorized with the
shipped model at its recommended settings, in turn and ``--repeats`` times, so that the
machine's load falls on every configuration alike:

- ``one machine``: ``run_batch`` in this process (torch on all cores), as ``colorize`` runs;
- ``cluster 1x2``: a throwaway local Ray cluster, one worker of 2 CPUs;
- ``cluster 2x1``: the same cluster, two workers of 1 CPU each.

Reported per configuration (medians): the whole run, the start-up (the cluster started, its
workers up with the model loaded), and the throughput once started, ``files / (last result -
workers ready)``, also per worker. Usage::

    python benchmarks/bench_cluster.py [--files 8] [--megapixels 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_colorize import CACHE, make_photo  # noqa: E402

CONFIGS = {"one machine": None, "cluster 1x2": (1, 2.0), "cluster 2x1": (2, 1.0)}


def one_run(name: str, sources, model_path, out: Path) -> dict:
    from colorizer_app.engine.batch import plan, run_batch
    from colorizer_app.engine.cluster import ClusterOptions, run_batch_on_cluster
    from colorizer_app.engine.pipeline import ColorizeSettings
    from colorizer_app.engine.provenance import Recipe
    from models.modelfile import load_generator

    generator = load_generator(model_path)
    settings = ColorizeSettings.for_model(generator.info)
    runner = settings.make_runner(generator)
    items = plan(sources, out)
    stamps: list[float] = []
    started = time.perf_counter()
    ready = [started]  # the cluster's workers are ready when it says how many started

    def on_note(text: str) -> None:
        if " worker" in text and " on " in text:
            ready.append(time.perf_counter())

    def on_result(result) -> None:
        assert result.status == "done", (result.status, result.reason)
        stamps.append(time.perf_counter())

    if CONFIGS[name] is None:
        run_batch(items, runner, settings, overwrite=True, on_result=on_result)
    else:
        workers, cpus = CONFIGS[name]
        run_batch_on_cluster(
            items,
            model_path,
            settings,
            Recipe.of(runner, settings),
            ClusterOptions("local:2", cpus_per_worker=cpus, workers=workers),
            overwrite=True,
            max_pixels=10**9,
            on_result=on_result,
            on_note=on_note,
        )
    total = time.perf_counter() - started
    return {
        "total": total,
        "startup": ready[-1] - started,
        "steady": len(stamps) / (stamps[-1] - ready[-1]),
        "workers": (CONFIGS[name] or (1,))[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--megapixels", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from colorizer_app.engine.listing import collect_inputs
    from models.modelfile import default_model_path

    folder = CACHE / f"cluster-{args.megapixels}mp"
    folder.mkdir(parents=True, exist_ok=True)
    photo = make_photo(args.megapixels, CACHE / f"scan-{args.megapixels}mp.jpg")
    for i in range(args.files):
        copy = folder / f"scan{i:03d}.jpg"
        if not copy.exists():
            copy.write_bytes(photo.read_bytes())
    sources = collect_inputs([folder])[: args.files]
    model_path = default_model_path()
    runs: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    for repeat in range(args.repeats):
        for name in CONFIGS:
            with tempfile.TemporaryDirectory() as out:
                result = one_run(name, sources, model_path, Path(out))
            runs[name].append(result)
            print(
                f"# repeat {repeat + 1} {name}: {result['total']:.1f} s, "
                f"{result['steady']:.3f} files/s",
                flush=True,
            )

    base = statistics.median(r["steady"] for r in runs["one machine"])
    print(
        f"\n{args.files} files of {args.megapixels} MP, shipped model at its recommended "
        f"settings, medians of {args.repeats}\n"
    )
    print(
        "| configuration | whole run s | start-up s | steady files/s | per worker files/s "
        "| throughput vs one machine |"
    )
    print("|---|---|---|---|---|---|")
    for name, results in runs.items():
        total = statistics.median(r["total"] for r in results)
        startup = statistics.median(r["startup"] for r in results)
        steady = statistics.median(r["steady"] for r in results)
        per_worker = steady / results[0]["workers"]
        print(
            f"| {name} | {total:.1f} | {startup:.1f} | {steady:.3f} | {per_worker:.3f} "
            f"| {steady / base:.2f} |"
        )


if __name__ == "__main__":
    main()
