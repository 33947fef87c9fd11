"""Run folders seen from outside the loop: what each holds and whether it can be resumed.

A run folder (written by :func:`trainer.loop.train`) holds ``config.json``, ``metrics.jsonl``,
``checkpoints/last.pt`` and, once finished, ``generator.safetensors``. The train tab lists
them so that an interrupted run (closed app, crash, power cut) can be resumed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trainer.report import read_jsonl

State = Literal["finished", "resumable", "empty"]


@dataclass
class RunInfo:
    path: Path
    name: str
    state: State
    step: int = 0  # last logged step (the checkpoint may be a little behind after a crash)
    total_steps: int = 0
    last_eval: dict = field(default_factory=dict)
    modified: float = 0.0

    @property
    def label(self) -> str:
        done = f"step {self.step}/{self.total_steps}" if self.total_steps else f"step {self.step}"
        what = {"finished": "finished", "resumable": "can resume", "empty": "no checkpoint"}
        return f"{self.name} ({what[self.state]}, {done})"


def describe_run(path: str | os.PathLike) -> RunInfo | None:
    """A run folder's state, or None if ``path`` is not a run folder."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        return None
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    history = read_jsonl(path / "metrics.jsonl")
    steps = [h for h in history if h.get("event") == "step"]
    evals = [h for h in history if h.get("event") == "eval"]
    checkpoint = path / "checkpoints" / "last.pt"
    if (path / "generator.safetensors").is_file():
        state: State = "finished"
    elif checkpoint.is_file():
        state = "resumable"
    else:
        state = "empty"
    stamps = [p.stat().st_mtime for p in (config_file, checkpoint) if p.exists()]
    return RunInfo(
        path=path,
        name=config.get("name") or path.name,
        state=state,
        step=int(steps[-1]["step"]) if steps else 0,
        total_steps=int(steps[-1].get("total_steps", 0)) if steps else 0,
        last_eval={k: v for k, v in evals[-1].items() if k != "event"} if evals else {},
        modified=max(stamps),
    )


def list_runs(root: str | os.PathLike) -> list[RunInfo]:
    """Run folders directly under ``root``, most recently used first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [info for p in root.iterdir() if p.is_dir() and (info := describe_run(p))]
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def history(path: str | os.PathLike, up_to_step: int | None = None) -> list[dict]:
    """The run's logged step and eval records, optionally only up to a (resumed) step."""
    records = [
        h for h in read_jsonl(Path(path) / "metrics.jsonl") if h.get("event") in ("step", "eval")
    ]
    if up_to_step is not None:
        records = [h for h in records if int(h.get("step", 0)) <= up_to_step]
    return records


def last_comparison(path: str | os.PathLike) -> dict | None:
    """The run's latest comparison with the model it was fine-tuned from, if it has one."""
    found = [r for r in read_jsonl(Path(path) / "metrics.jsonl") if r.get("event") == "compare"]
    return found[-1] if found else None
