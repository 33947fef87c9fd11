"""Store a trained run's generator as the shipped default model (half precision).

The file records the whole training history: a run fine-tuned from an earlier run's model
(``--init-from``) is listed after that run, with its command, steps and wall time, and the
totals. The card (docs/MODEL_CARD.md) quotes these numbers.

Usage:
    python scripts/ship_model.py --name "colorizer-default-v2 (L1)" \
        --stage runs/l1-base "colorizer train ..." --stage runs/l1-long "colorizer train ..." \
        [--render-size 384 --strength 1.35] [--out models/weights/default.safetensors]
    # a run fine-tuned from a shipped file: that file's stages come first
    python scripts/ship_model.py --name "colorizer-default-v3" --stages-from OLD.safetensors \
        --stage runs/v3 "colorizer train ..." --temperature 0.38
    # the same run continued, its weights averaged with an earlier file's (a "model soup":
    # 0.5 x run + 0.5 x OLD); a stage of the same run replaces the earlier file's record of it;
    # repeat --average-with to average several (e.g. two arms and their start, 1/3 each)
    python scripts/ship_model.py --name "colorizer-default-v3" --stages-from OLD.safetensors \
        --stage runs/v3 "colorizer train ..." --average-with OLD.safetensors 0.5
    # the same weights with new recommended settings and evaluations (the engine changed)
    python scripts/ship_model.py --restate OLD.safetensors --strength 1.0 \
        --evaluation kodak24 k.json --why "..."
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.modelfile import ModelInfo, load_generator, save_generator  # noqa: E402

# what a v3 run's training record adds (trainer.export): kept with its stage and the total
V3_KEYS = ("ce_weight", "reg_weight", "rebalance", "hints", "degrade", "ema", "init_from")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name")
    parser.add_argument(
        "--stage",
        nargs=2,
        action="append",
        default=[],
        metavar=("RUN_DIR", "COMMAND"),
        help="a training run, in order; the last one's generator is shipped",
    )
    parser.add_argument("--out", default=str(ROOT / "models" / "weights" / "default.safetensors"))
    parser.add_argument("--data", default="photos-train")
    parser.add_argument(
        "--render-size", type=int, help="recommended render size (measured best for this model)"
    )
    parser.add_argument("--strength", type=float, help="recommended colour strength")
    parser.add_argument("--decoder", choices=("regression", "annealed_mean"))
    parser.add_argument("--temperature", type=float, help="recommended annealed-mean temperature")
    parser.add_argument(
        "--stages-from", metavar="FILE", help="a model file whose training stages come first"
    )
    parser.add_argument(
        "--average-with",
        nargs=2,
        action="append",
        default=[],
        metavar=("FILE", "WEIGHT"),
        help="ship (1 - WEIGHT) x the last stage's weights + WEIGHT x FILE's (same network); "
        "repeat it to average several files (the last stage keeps 1 - the weights' sum)",
    )
    parser.add_argument(
        "--evaluation",
        nargs=2,
        action="append",
        default=[],
        metavar=("SET", "JSON"),
        help="a `colorizer evaluate --json` summary at the recommended settings, stored under "
        "metrics.evaluation.SET",
    )
    parser.add_argument(
        "--restate",
        metavar="FILE",
        help="ship FILE's weights and training record as they are, with the recommended "
        "settings and evaluations given here (the others kept)",
    )
    parser.add_argument("--why", default="", help="with --restate: why, kept in the file")
    args = parser.parse_args(argv)
    if args.restate:
        return restate(args)
    if not args.stage or not args.name:
        parser.error("--name and at least one --stage are required (or --restate FILE)")

    stages = []
    if args.stages_from:
        stages += list(load_generator(args.stages_from).info.training.get("stages", []))
    for run_dir, command in args.stage:
        info = load_generator(Path(run_dir) / "generator.safetensors").info
        t = info.training
        stages = [s for s in stages if s["run"] != Path(run_dir).name]  # the run continued
        stages.append(
            {
                "run": Path(run_dir).name,
                "command": command,
                "recipe": t["recipe"],
                "steps": t["steps"],
                "epochs": t["epochs"],
                "wall_seconds": t["wall_seconds"],
                "lr": t["lr"],
                **{k: t[k] for k in V3_KEYS if k in t},
            }
        )
    final = load_generator(Path(args.stage[-1][0]) / "generator.safetensors")
    last = final.info.training
    averaged = {}
    if args.average_with:
        mine = final.module.state_dict()
        others = [(path, float(w), load_generator(path)) for path, w in args.average_with]
        keep = 1.0 - sum(w for _, w, _ in others)
        if not all(0.0 < w < 1.0 for _, w, _ in others) or not 0.0 < keep < 1.0:
            raise SystemExit(
                "--average-with: each weight must be between 0 and 1 and their sum below 1 "
                "(the last stage keeps the rest)"
            )
        soup = {k: keep * mine[k].float() for k in mine}
        for path, weight, other in others:
            theirs = other.module.state_dict()
            if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
                raise SystemExit(f"{path}: not the same network; cannot average")
            for k in mine:
                soup[k] += weight * theirs[k].float()
        final.module.load_state_dict(soup)
        records = [
            {"model": other.info.name, "steps": other.info.training.get("steps"), "weight": w}
            for _, w, other in others
        ]
        why = (
            "weight average of the last stage and earlier files: more accurate at equal "
            "colour than either (docs/MODEL_CARD.md)"
        )
        averaged = {
            "averaged_with": {**records[0], "why": why}
            if len(records) == 1
            else {"models": records, "last_stage_weight": round(keep, 6), "why": why}
        }
    training = {
        "recipe": last["recipe"],
        "stages": stages,
        "steps": sum(s["steps"] for s in stages),
        "epochs": round(sum(s["epochs"] for s in stages), 3),
        "wall_seconds": round(sum(s["wall_seconds"] for s in stages), 1),
        "image_size": last["image_size"],
        "batch_size": last["batch_size"],
        "lambda_l1": last["lambda_l1"],
        "warmup_epochs": last.get("warmup_epochs", 0.0),
        "lr": last["lr"],
        "data": args.data,
        "device": last["device"],
        "hardware": platform.processor() or platform.machine(),
        "stored_as": "float16",
        **{k: last[k] for k in V3_KEYS if k in last},
        **averaged,
    }
    info = ModelInfo(
        final.info.config,
        color_space=final.info.color_space,
        training=training,
        metrics={
            **final.info.metrics,
            **(
                {"evaluation": {k: json.loads(Path(v).read_text()) for k, v in args.evaluation}}
                if args.evaluation
                else {}
            ),
        },
        name=args.name,
        recommended=_recommended(args),
    )
    out = save_generator(args.out, final.module, info, dtype=torch.float16)
    print(
        f"{out}: {out.stat().st_size / 1e6:.1f} MB, {training['steps']} steps, "
        f"{training['epochs']} epochs, {training['wall_seconds'] / 60:.0f} min"
    )
    return 0


def _recommended(args, earlier: dict | None = None) -> dict:
    given = {
        "render_size": args.render_size,
        "strength": args.strength,
        "decoder": args.decoder,
        "temperature": args.temperature,
    }
    return {**(earlier or {}), **{k: v for k, v in given.items() if v is not None}}


def restate(args) -> int:
    """The weights of ``args.restate`` unchanged, new recommendations and evaluations."""
    old = load_generator(args.restate)
    history = list(old.info.training.get("restated", []))
    history.append({"recommended_before": old.info.recommended, "why": args.why})
    evaluation = {k: json.loads(Path(v).read_text()) for k, v in args.evaluation}
    metrics = dict(old.info.metrics)
    if evaluation:
        metrics["evaluation"] = evaluation
    info = ModelInfo(
        old.info.config,
        color_space=old.info.color_space,
        training={**old.info.training, "restated": history},
        metrics=metrics,
        name=args.name or old.info.name,
        recommended=_recommended(args, old.info.recommended),
    )
    out = save_generator(args.out, old.module, info, dtype=torch.float16)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, recommends {info.recommended}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
