"""What the Train tab trains with: a :class:`TrainConfig` built from the tab's choices, written
into the new run folder as ``run.json`` and run as ``colorizer train --config run.json``.

The tab's defaults are a TrainConfig too (:data:`FINE_TUNE`): a short fine-tune on a small
folder of the user's photos; every setting the tab does not show keeps TrainConfig's default.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from models.atomic import write_text_atomically
from trainer.config import TrainConfig

# Fewer epochs, a smaller batch and a larger validation share than a training from scratch.
FINE_TUNE = TrainConfig(epochs=5, batch_size=8, val_fraction=0.1)
RUN_FILE = "run.json"  # the settings a run was started with (the trainer adds config.json)


def runs_root() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "runs"


def safe_name(text: str) -> str:
    """A file-system-safe version of a user's model or run name."""
    name = re.sub(r"[^\w\- ]+", "", text, flags=re.UNICODE).strip().replace(" ", "-")
    return name[:60] or "model"


def new_run_dir(runs_dir: Path, name: str) -> Path:
    return runs_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{safe_name(name)}"


def model_settings(base: str | None, info) -> dict:
    """Fine-tune from the ``base`` model file, or train from scratch with the architecture
    described by ``info`` (the default model's ``ModelInfo``; None: TrainConfig's)."""
    settings: dict = {}
    if base:
        settings["init_from"] = base
    elif info is not None:
        config = info.config
        settings.update(ngf=config.ngf, num_downs=config.num_downs, upsample=config.upsample)
    if info is not None:
        settings["color_space"] = info.color_space
    return settings


def estimated_steps(
    length: int, unit: str, *, items: int, val_fraction: float, batch_size: int
) -> int:
    """Steps of a run of ``length`` epochs or steps (epochs: from the data check's count)."""
    if unit == "steps":
        return length
    return int(length * items * (1.0 - val_fraction) / batch_size)


def logging_settings(steps: int) -> dict:
    """Enough points for the plots and a preview every few percent, but not thousands."""
    return {
        "log_every": max(1, min(5, steps // 100)) if steps else 5,
        "eval_every": max(1, steps // 10) if steps else 0,  # 0: at each epoch end
        "checkpoint_every": max(1, min(200, steps // 5)) if steps else 200,
    }


def write_run_file(config: TrainConfig) -> Path:
    """Write ``config`` as ``RUN_DIR/run.json`` (creating the run folder); return its path."""
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_text_atomically(run_dir / RUN_FILE, config.to_json())
