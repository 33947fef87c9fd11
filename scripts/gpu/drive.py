"""Fine-tune arms side by side on a lent GPU machine, sized to a wall-clock budget.

Runs on the device machine from the repository root, with the photos of
``scripts/gpu/pack_data.py`` unpacked in ``.gpudata/{train,hires}``. Each arm is one
``python -m trainer`` process (its own DataLoader workers) with the common recipe below and
the arm's own options (``ARMS``, JSON). Two ways to size a run:

- probe (default): every arm starts with a huge ``--steps`` (constant learning rate); at
  ``MEASURE_AT`` seconds the step rates are read off ``metrics.jsonl``, each arm is stopped
  (SIGTERM: the trainer checkpoints) and resumed with the ``--steps`` that ends by
  ``END_AT``, so that the learning-rate decay completes;
- ``STEPS=N``: one phase of N steps, stopped at ``END_AT + HARD_GRACE`` if slower.

The moving-average weights are exported as fp16 model files into ``$OUT``: at ``MID_AT``
(``<arm>_mid``) and at the end (``<arm>_final``); ``runs.tar.gz`` holds each run's
config.json, metrics.jsonl and log. ``$OUT`` brings back at most 8 files of 16 MiB: four
model files (15.3 MB each) is the most one call can return.

Session 10 (H200, 2 arms x 7 workers, b32 x 256 px, bf16): about 415 crops/s per arm; one
arm with 14 workers about 600: each process's data path is the bound, not the GPU, so
running arms side by side uses the GPU better.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

T0 = time.time()
OUT = Path(os.environ.get("OUT") or "out_local")
RUNS = Path("gpuruns")
DATA_DIR = ".gpudata"


def now() -> float:
    return time.time() - T0


def say(*parts) -> None:
    print(f"[{now():6.1f}s]", *parts, flush=True)


def setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


MEASURE_AT, MID_AT = setting("MEASURE_AT", 80), setting("MID_AT", 300)
END_AT = setting("END_AT", 460)
HARD_GRACE = setting("HARD_GRACE", 25)
# each folder listed REP times: longer epochs, fewer DataLoader restarts
REPEAT = int(setting("REP", 4))
DATA = ":".join([f"{DATA_DIR}/train"] * REPEAT + [f"{DATA_DIR}/hires"] * REPEAT)
COMMON = [
    *("--data", DATA, "--init-from", os.environ.get("INIT", "models/weights/default.safetensors")),
    *("--image-size", "256", "--batch-size", os.environ.get("BATCH", "32"), "--scale-min", "0.9"),
    *("--loss", "l1", "--hints", "--distribution", "--reg-weight", "10", "--ce-weight", "1"),
    *("--rebalance", "0.5", "--temperature", "0.7", "--degrade", "0.5", "--ema", "0.999"),
    *("--lr-decay-start", "0.5", "--precision", "bf16", "--device", os.environ.get("DEV", "cuda")),
    *("--channels-last", "--workers", os.environ.get("WORKERS", "7"), "--val-fraction", "0.01"),
    *("--val-max", "48", "--eval-every", "1000", "--checkpoint-every", "500"),
    *("--log-every", os.environ.get("LOG_EVERY", "50")),
]
ARMS = json.loads(
    os.environ.get(
        "ARMS", '{"a": ["--lr", "1e-4", "--seed", "11"], "b": ["--lr", "3e-4", "--seed", "12"]}'
    )
)


def launch(name: str, steps: int) -> subprocess.Popen:
    run = RUNS / name
    run.mkdir(parents=True, exist_ok=True)
    log = open(RUNS / f"{name}.log", "a")  # noqa: SIM115 (the child writes it until it exits)
    command = [sys.executable, "scripts/gpu/entry.py", *COMMON, *ARMS[name]]
    command += ["--run-dir", str(run), "--name", f"gpu-{name}", "--steps", str(steps)]
    say("launch", name, steps)
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def last_step(name: str) -> int:
    path = RUNS / name / "metrics.jsonl"
    step = 0
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # a line being written
                continue
            if event.get("event") == "step":
                step = event["step"]
    return step


def stop(procs: dict, grace: float = 60) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the trainer finishes the step and checkpoints
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(1.0, grace))
        except subprocess.TimeoutExpired:
            say("kill", name)
            proc.kill()
            proc.wait()
        say("stopped", name, "rc", proc.returncode, "at step", last_step(name))


def export(name: str, tag: str) -> None:
    from trainer.export import export_checkpoint

    try:
        path = export_checkpoint(RUNS / name, OUT / f"{name}_{tag}.safetensors")
        say("exported", path, "step", last_step(name))
    except Exception as err:  # keep going: the other files still matter
        say("export failed", name, tag, repr(err))


def tail(name: str, lines: int = 8) -> None:
    path = RUNS / f"{name}.log"
    if path.exists():
        for line in path.read_text().splitlines()[-lines:]:
            print(f"   {name}| {line}", flush=True)


def probe(procs: dict) -> tuple[dict, dict]:
    """Step rates over [MEASURE_AT - 30, MEASURE_AT] s; arms that died."""
    first: dict[str, float] = {}
    while now() < MEASURE_AT - 30 and all(p.poll() is None for p in procs.values()):
        time.sleep(2)
        first.update({n: now() for n in ARMS if n not in first and last_step(n) > 0})
    s1, t1 = {n: last_step(n) for n in ARMS}, now()
    while now() < MEASURE_AT and all(p.poll() is None for p in procs.values()):
        time.sleep(2)
    s2, t2 = {n: last_step(n) for n in ARMS}, now()
    for n in ARMS:
        tail(n)
    rates = {n: (s2[n] - s1[n]) / max(1e-6, t2 - t1) for n in ARMS}
    say("steps", s2, "rates steps/s", {n: round(r, 2) for n, r in rates.items()}, "first", first)
    dead = [n for n, p in procs.items() if p.poll() is not None]
    if dead:
        say("arm(s) died in the probe:", dead)
    return rates, {"dead": dead, "startup": max(first.values(), default=20.0)}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    sys.path.insert(0, ".")
    hard_at = END_AT + HARD_GRACE
    if os.environ.get("STEPS"):
        final = {n: int(os.environ["STEPS"]) for n in ARMS}
        procs = {n: launch(n, final[n]) for n in ARMS}
    else:
        procs = {n: launch(n, 1_000_000) for n in ARMS}
        rates, seen = probe(procs)
        alive = [n for n in ARMS if n not in seen["dead"]]
        if any(rates[n] <= 0 for n in alive):  # nothing to size by: run on, no lr decay
            say("no step rate: phase 1 runs on to END_AT without the learning-rate decay")
            final = {n: 1_000_000 for n in alive}
            procs = {n: procs[n] for n in alive}
            hard_at = END_AT
        else:
            t_stop = now()
            stop(procs)
            restart = now() - t_stop + seen["startup"] + 5
            left = END_AT - now() - restart
            final = {n: max(last_step(n) + 100, int(last_step(n) + rates[n] * left)) for n in alive}
            procs = {n: launch(n, final[n]) for n in final}
    mid_done = False
    while any(p.poll() is None for p in procs.values()) and now() < hard_at:
        time.sleep(3)
        if not mid_done and now() >= MID_AT:
            for n in procs:
                export(n, "mid")
                tail(n, 3)
            mid_done = True
    if any(p.poll() is None for p in procs.values()):
        say("hard deadline: stopping")
    stop(procs, grace=40)
    for n in procs:
        tail(n, 12)
        export(n, "final")
    with tarfile.open(OUT / "runs.tar.gz", "w:gz") as tar:
        for n in final:
            for f in ("config.json", "metrics.jsonl"):
                if (RUNS / n / f).exists():
                    tar.add(RUNS / n / f)
            tar.add(RUNS / f"{n}.log")
    say("done", {n: last_step(n) for n in final})


if __name__ == "__main__":
    main()
