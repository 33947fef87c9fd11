"""Run artefacts: metric lines (JSON Lines), the loss-curve PNG and sample grids."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from models.atomic import write_atomically
from models.color import denormalize_ab, merge_l_ab


def append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    return records


def drop_after(path: Path, step: int) -> None:
    """Keep only the records up to ``step`` (a resumed run repeats the steps after its
    checkpoint; their first records would otherwise appear twice)."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if not isinstance(r.get("step"), int) or r["step"] <= step]
    text = "".join(json.dumps(r) + "\n" for r in kept)
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def to_rgb8(L_norm: np.ndarray, out: np.ndarray, color_space: str) -> np.ndarray:
    """Network tensors (1, S, S) L and (C, S, S) output -> (S, S, 3) uint8 RGB."""
    L = (L_norm[0] + 1.0) * 50.0
    if color_space == "lab":
        return merge_l_ab(L.astype(np.float32), denormalize_ab(out.transpose(1, 2, 0)))
    return np.rint((np.clip(out, -1, 1).transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)


def sample_grid(
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], per_line: int = 2
) -> np.ndarray:
    """Lay (gray | output | truth) triples of equal-size uint8 RGB images out in a grid,
    ``per_line`` triples side by side (a wide picture: it fits a preview pane and a page)."""
    pad = 4
    h, w = rows[0][0].shape[:2]
    gap = np.full((h, pad, 3), 255, np.uint8)
    wide_gap = np.full((h, 4 * pad, 3), 255, np.uint8)
    blank = np.full((h, w, 3), 255, np.uint8)
    triples = [np.hstack([gray, gap, output, gap, truth]) for gray, output, truth in rows]
    empty = np.hstack([blank, gap, blank, gap, blank])
    lines = []
    for start in range(0, len(triples), per_line):
        chunk = triples[start : start + per_line]
        chunk += [empty] * (per_line - len(chunk)) if len(triples) > per_line else []
        parts = [part for t in chunk for part in (t, wide_gap)][:-1]
        lines.append(np.hstack(parts))
        lines.append(np.full((pad, lines[-1].shape[1], 3), 255, np.uint8))
    return np.vstack(lines[:-1])


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write ``rgb`` (H, W, 3) uint8 as a PNG, atomically (a preview never sees half a file)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if ok:
        write_atomically(path, buf.tofile)


ADVERSARIAL = "g_adv"  # the generator's adversarial loss; every other g_* reconstructs
_NAMES = {"adv": "adversarial", "real": "real", "fake": "fake"}


def losses(record: dict) -> dict[str, float]:
    """The losses in a step record: the generator's reconstruction losses (``g_l1``,
    ``g_mse``, any other ``g_*``) first, then ``g_adv``, then the discriminator's ``d_*``."""
    found = {
        k: float(v)
        for k, v in record.items()
        if k.startswith(("g_", "d_")) and isinstance(v, (int, float))
    }
    return dict(sorted(found.items(), key=lambda kv: _panel_order(kv[0])))


def _panel_order(key: str) -> int:
    return 2 if key.startswith("d_") else 1 if key == ADVERSARIAL else 0


def loss_label(key: str) -> str:
    """``g_l1`` -> ``G L1``, ``g_adv`` -> ``G adversarial``, ``d_real`` -> ``D real``."""
    who, _, what = key.partition("_")
    return f"{who.upper()} {_NAMES.get(what, what.upper())}"


def loss_curve(path: Path, steps: list[dict], evals: list[dict]) -> None:
    """Plot generator/discriminator losses and validation PSNR/colourfulness to a PNG."""
    fig = loss_figure(steps, evals)
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))


def loss_figure(steps: list[dict], evals: list[dict]):
    """The loss-curve figure. Left: every reconstruction loss that was logged (g_l1, g_mse,
    any g_*); middle: the adversarial ones (g_adv, d_*); right: validation against gray."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    x = [s["step"] for s in steps]
    keys = list(dict.fromkeys(k for s in steps for k in losses(s)))
    reconstruction = [k for k in keys if k.startswith("g_") and k != ADVERSARIAL]
    for key in keys:
        ys = [s.get(key, np.nan) for s in steps]
        (ax1 if key in reconstruction else ax2).plot(x, ys, label=loss_label(key))
    ax1.set_title(
        "generator " + ", ".join(loss_label(k)[2:] for k in reconstruction)
        if reconstruction
        else "generator reconstruction"
    )
    ax2.set_title("adversarial losses")
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=8)
    if evals:
        ex = [e["step"] for e in evals]
        ax3.plot(ex, [e["psnr"] - e["gray_psnr"] for e in evals], label="PSNR - gray (dB)")
        ax3b = ax3.twinx()
        ratio = [e["colourfulness"] / max(e["truth_colourfulness"], 1e-6) for e in evals]
        ax3b.plot(ex, ratio, color="tab:red", label="colourfulness / truth")
        ax3b.set_ylim(0, max(1.2, max(ratio) * 1.1))
        ax3.axhline(0, color="gray", lw=0.5)
        ax3.set_title("validation")
        ax3.set_xlabel("step")
        ax3.legend(loc="upper left", fontsize=8)
        ax3b.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
