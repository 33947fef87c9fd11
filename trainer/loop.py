"""The training loop: Pix2Pix (adversarial BCE-with-logits + lambda x L1) and its baselines.

One explicit loop with commented phases, packaged as ``train(config, progress, on_event)``.
Resume and fine-tune share one path (load weights, optionally optimiser state). Runs under
``torchrun`` with DistributedDataParallel (gloo on CPU, nccl on CUDA) with the same options.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset

from models.atomic import write_text_atomically
from models.device import autocast, resolve_device
from models.errors import Cancelled, ColorizerError
from models.modelfile import ModelInfo, load_generator, read_info, save_generator
from models.networks import (
    GENERATOR_TYPES,
    AutoencoderConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    build_generator,
)
from models.progress import NullProgress, Progress
from trainer import metrics
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.config import TrainConfig
from trainer.data import SampleMaker, load_or_skip, open_source, split_indices
from trainer.report import append_jsonl, loss_curve, read_jsonl, sample_grid, to_rgb8, write_png

log = logging.getLogger(__name__)

Event = dict
EventFn = Callable[[Event], None]


class TrainingError(ColorizerError):
    """Training cannot go on (diverged, unusable data, ...). The last checkpoint is intact."""


# --- data ---------------------------------------------------------------------------------


class _Samples(Dataset):
    def __init__(self, source, indices, maker: SampleMaker, train: bool) -> None:
        self.source, self.indices, self.maker, self.train = source, indices, maker, train
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        loaded = load_or_skip(self.source, index)
        if loaded is None:
            return None
        if self.train:
            return self.maker.train(loaded, index, self.epoch)
        return self.maker.validation(loaded)


def _collate(batch):
    batch = [b for b in batch if b is not None]  # unreadable files were skipped
    if not batch:
        return None
    return (
        torch.from_numpy(np.stack([b[0] for b in batch])),
        torch.from_numpy(np.stack([b[1] for b in batch])),
    )


def epoch_batches(n: int, batch_size: int, epoch: int, seed: int, rank: int, world: int):
    """The index batches of one epoch for this rank (deterministic; drops a ragged tail)."""
    order = np.random.default_rng([seed, 7919, epoch]).permutation(n)
    per_step = batch_size * world
    steps = max(1, n // per_step)
    if n < per_step:  # tiny data: every rank takes what there is
        order = np.resize(order, per_step)
    return [
        order[s * per_step + rank * batch_size : s * per_step + (rank + 1) * batch_size]
        for s in range(steps)
    ]


# --- recipe helpers -----------------------------------------------------------------------


class _DiscriminatorPair(nn.Module):
    """Runs D on the real and the fake pair in one call (one DDP forward per backward), keeping
    their BatchNorm statistics separate as pix2pix does."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        return self.d(real), self.d(fake)


def learning_rate(step: int, total: int, base: float, decay_start: float) -> float:
    """Constant, then linear decay to zero over the last (1 - decay_start) of the run."""
    if decay_start <= 0 or total <= 0:
        return base
    start = decay_start * total
    if step < start:
        return base
    return base * max(0.0, 1.0 - (step - start) / max(1.0, total - start))


def _generator_config(config: TrainConfig):
    out = 2 if config.color_space == "lab" else 3
    if config.architecture == "autoencoder":
        return AutoencoderConfig(
            out_channels=out, width=config.ngf, depth=config.num_downs, dropout=0.0
        )
    return GeneratorConfig(
        out_channels=out,
        ngf=config.ngf,
        num_downs=config.num_downs,
        upsample=config.upsample,
        dropout=config.dropout,
    )


def _fingerprint(module: nn.Module) -> float:
    with torch.no_grad():
        return float(sum(p.double().sum() for p in module.parameters()))


# --- the loop -----------------------------------------------------------------------------


def train(
    config: TrainConfig,
    progress: Progress | None = None,
    on_event: EventFn | None = None,
) -> Path:
    """Train (or resume) the run in ``config.run_dir``; returns the exported generator file.

    ``on_event`` receives dicts: start, step, eval, checkpoint, done (rank 0 only).
    Cancellation through ``progress`` saves a checkpoint, then raises :class:`Cancelled`.
    """
    progress = progress or NullProgress()
    rank, world = _init_distributed(config)
    main = rank == 0
    emit = (on_event or (lambda e: None)) if main else (lambda e: None)
    run_dir = Path(config.run_dir)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if main:
        _prepare_run_dir(run_dir, config)
    if world > 1:
        dist.barrier()
    try:
        return _train(config, progress, emit, rank, world, run_dir, ckpt_path)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(config, progress, emit, rank, world, run_dir, ckpt_path) -> Path:
    main = rank == 0
    device = _device(config, rank, world)
    torch.manual_seed(config.seed)

    # Data: split by file, deterministic per-sample augmentation.
    source = open_source(config)
    train_idx, val_idx = split_indices(len(source), config.val_fraction, config.seed)
    if config.max_images:
        train_idx = train_idx[: config.max_images]
    maker = SampleMaker(
        config.image_size,
        config.color_space,
        scale=(config.scale_min, config.scale_max),
        rotate=config.rotate_degrees,
        flip=config.flip,
        seed=config.seed,
    )
    train_set = _Samples(source, train_idx, maker, train=True)
    val_set = _Samples(source, val_idx[: config.val_max], maker, train=False)
    steps_per_epoch = len(epoch_batches(len(train_set), config.batch_size, 0, 0, 0, world))
    total_steps = config.steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)

    # Models and optimisers; fine-tune from a generator file, or resume from the checkpoint.
    g_config = _generator_config(config)
    if config.init_from:
        loaded = load_generator(config.init_from)
        g_config, generator = loaded.info.config, loaded.module
        if loaded.info.color_space != config.color_space:
            raise TrainingError(
                f"{config.init_from} is a {loaded.info.color_space} model, "
                f"the run trains {config.color_space}"
            )
    else:
        generator = build_generator(g_config)
    if g_config.multiple > config.image_size or config.image_size % g_config.multiple:
        raise TrainingError(
            f"image_size {config.image_size} must be a multiple of "
            f"{g_config.multiple} for this architecture"
        )
    out_ch = g_config.out_channels
    discriminator = PatchDiscriminator(DiscriminatorConfig(in_channels=1 + out_ch, ndf=config.ndf))
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    generator.to(device, memory_format=memory_format).train()
    discriminator.to(device, memory_format=memory_format).train()
    opt_g = torch.optim.Adam(
        generator.parameters(), lr=config.lr, betas=(config.beta1, config.beta2)
    )
    opt_d = torch.optim.Adam(
        discriminator.parameters(), lr=config.lr_d or config.lr, betas=(config.beta1, config.beta2)
    )
    step, wall_before = 0, 0.0
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        if state["g_config"] != asdict(g_config):
            raise TrainingError(
                f"{ckpt_path}: the checkpoint holds another architecture; use a new run folder"
            )
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        step, wall_before = int(state["step"]), float(state.get("wall_seconds", 0.0))
        torch.set_rng_state(state["torch_rng"])
        emit({"event": "resume", "step": step, "checkpoint": str(ckpt_path)})

    g_ddp = DDP(generator) if world > 1 else generator
    d_pair = _DiscriminatorPair(discriminator)
    d_ddp = DDP(d_pair) if world > 1 else d_pair
    if config.compile:
        g_ddp = torch.compile(g_ddp)
    bce = nn.BCEWithLogitsLoss()
    recon = nn.MSELoss() if config.loss == "mse" else nn.L1Loss()
    autocast = _autocast(config, device)
    fp16 = config.precision == "fp16"
    scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
    scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)

    emit(
        {
            "event": "start",
            "total_steps": total_steps,
            "steps_per_epoch": steps_per_epoch,
            "train_images": len(train_set),
            "val_images": len(val_set),
            "device": str(device),
            "world_size": world,
            "step": step,
            "run_dir": str(run_dir),
        }
    )

    def checkpoint() -> None:
        if not main:
            return
        save_checkpoint(
            ckpt_path,
            {
                "step": step,
                "epoch": step / steps_per_epoch,
                "config": asdict(config),
                "g_config": asdict(g_config),
                "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "wall_seconds": wall(),
            },
        )
        emit({"event": "checkpoint", "step": step, "path": str(ckpt_path)})

    started = time.perf_counter()
    window_start, window_images = time.perf_counter(), 0
    held = 0.0  # seconds spent paused: not training time (wall_seconds, images/s)

    def wall() -> float:
        return wall_before + time.perf_counter() - started - held

    curve = _LossCurve()
    try:
        while step < total_steps:
            epoch = step // steps_per_epoch
            train_set.epoch = epoch
            batches = epoch_batches(
                len(train_set), config.batch_size, epoch, config.seed, rank, world
            )[step % steps_per_epoch :]
            # Its own generator: creating a loader must not draw from the global RNG, which
            # drives dropout and is saved in checkpoints (resume equivalence).
            loader = DataLoader(
                train_set,
                batch_sampler=batches,
                collate_fn=_collate,
                num_workers=config.workers,
                generator=torch.Generator().manual_seed(config.seed + epoch),
            )
            for batch in loader:
                waited = time.perf_counter()
                progress.check_cancelled()  # holds here while the user pauses
                waited = time.perf_counter() - waited
                held += waited
                window_start += waited
                if batch is None:
                    continue
                # --- data
                gray, target = (t.to(device, non_blocking=True) for t in batch)
                if config.channels_last:
                    gray = gray.contiguous(memory_format=torch.channels_last)
                lr = learning_rate(step, total_steps, config.lr, config.lr_decay_start)
                for group in opt_g.param_groups:
                    group["lr"] = lr
                for group in opt_d.param_groups:
                    group["lr"] = lr * (config.lr_d or config.lr) / config.lr
                adversarial = config.adversarial and step >= warmup_steps
                record = {
                    "event": "step",
                    "step": step + 1,
                    "epoch": (step + 1) / steps_per_epoch,
                    "lr": lr,
                }
                with autocast:
                    fake = g_ddp(gray)
                # --- D step on fake.detach(): real pairs -> 1, fake pairs -> 0
                if adversarial:
                    discriminator.requires_grad_(True)
                    with autocast:
                        pred_real, pred_fake = d_ddp(
                            torch.cat([gray, target], 1), torch.cat([gray, fake.detach()], 1)
                        )
                        d_real = bce(
                            pred_real.float(), torch.ones_like(pred_real, dtype=torch.float32)
                        )
                        d_fake = bce(
                            pred_fake.float(), torch.zeros_like(pred_fake, dtype=torch.float32)
                        )
                        loss_d = 0.5 * (d_real + d_fake)
                    opt_d.zero_grad(set_to_none=True)
                    scaler_d.scale(loss_d).backward()
                    scaler_d.step(opt_d)
                    scaler_d.update()
                    record.update(d_real=d_real.item(), d_fake=d_fake.item())
                # --- G step with D frozen: fool D, stay close to the truth
                with autocast:
                    rec = recon(fake.float(), target)
                    loss_g = rec * (config.lambda_l1 if adversarial else 1.0)
                    if adversarial:
                        discriminator.requires_grad_(False)
                        pred = discriminator(torch.cat([gray, fake], 1))
                        g_adv = bce(pred.float(), torch.ones_like(pred, dtype=torch.float32))
                        loss_g = loss_g + g_adv
                        record["g_adv"] = g_adv.item()
                opt_g.zero_grad(set_to_none=True)
                scaler_g.scale(loss_g).backward()
                scaler_g.step(opt_g)
                scaler_g.update()
                record["g_l1" if config.loss != "mse" else "g_mse"] = rec.item()
                losses = [v for k, v in record.items() if k.startswith(("g_", "d_"))]
                if not all(math.isfinite(v) for v in losses):
                    raise TrainingError(
                        f"loss became NaN/Inf at step {step + 1} ({record}); stopped. The last "
                        f"checkpoint ({ckpt_path}) is intact: lower the learning rate or use "
                        "--precision fp32, then resume"
                    )
                step += 1
                window_images += len(gray) * world
                # --- log
                if main and (step % config.log_every == 0 or step == total_steps):
                    elapsed = time.perf_counter() - window_start
                    record["images_per_s"] = window_images / max(elapsed, 1e-9)
                    record["total_steps"] = total_steps
                    window_start, window_images = time.perf_counter(), 0
                    append_jsonl(run_dir / "metrics.jsonl", record)
                    emit(record)
                progress.update(step, total_steps, "training")
                # --- evaluate, checkpoint
                end_of_epoch = step % steps_per_epoch == 0
                if (
                    (config.eval_every and step % config.eval_every == 0)
                    or (not config.eval_every and end_of_epoch)
                    or step == total_steps
                ):
                    if main:
                        _evaluate(generator, val_set, config, device, step, run_dir, emit)
                        curve.write(run_dir, final=step >= total_steps)
                        generator.train()
                # every N steps, at the end, and at epoch ends unless epochs are short (a
                # small fine-tuning folder must not write a checkpoint every few steps)
                long_epoch = steps_per_epoch >= config.checkpoint_every
                if (
                    step % config.checkpoint_every == 0
                    or (end_of_epoch and long_epoch)
                    or step == total_steps
                ):
                    checkpoint()
                if step >= total_steps:
                    break
    except Cancelled:
        checkpoint()
        if main:
            curve.write(run_dir, final=True)
        emit({"event": "cancelled", "step": step})
        raise
    if world > 1:
        agree = _ranks_agree(generator, world)
        emit({"event": "ddp_check", "world_size": world, "ranks_agree": agree})
    if not main:
        return run_dir / "generator.safetensors"
    out = export(
        run_dir,
        generator,
        g_config,
        config,
        step,
        wall(),
        device,
        steps_per_epoch,
    )
    emit({"event": "done", "step": step, "model": str(out)})
    return out


def _evaluate(generator, val_set, config, device, step, run_dir, emit) -> dict:
    """Validation PSNR / SSIM / colourfulness on centre crops, next to the gray baseline."""
    generator.eval()
    rows, scores = [], []
    with torch.no_grad():
        for i in range(len(val_set)):
            sample = val_set[i]
            if sample is None:
                continue
            gray, target = sample
            out = generator(torch.from_numpy(gray)[None].to(device)).float().cpu().numpy()[0]
            output = to_rgb8(gray, out, config.color_space)
            truth = to_rgb8(gray, target, config.color_space)
            scores.append(metrics.score(output, truth))
            if len(rows) < config.sample_count:
                rows.append((metrics.gray_baseline(truth), output, truth))
    if not scores:
        return {}
    summary = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    record = {"event": "eval", "step": step, "images": len(scores), **summary}
    append_jsonl(run_dir / "metrics.jsonl", record)
    write_png(run_dir / "samples" / f"step{step:07d}.png", sample_grid(rows))
    write_png(run_dir / "samples" / "latest.png", sample_grid(rows))
    emit(record)
    return record


class _LossCurve:
    """Redraws loss_curve.png after an evaluation, at most every ``every_s`` seconds
    (matplotlib costs about a second a plot) and always at the end of a run or a cancel."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s, self.last = every_s, -math.inf

    def write(self, run_dir: Path, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.every_s:
            return
        self.last = now
        history = read_jsonl(run_dir / "metrics.jsonl")
        loss_curve(
            run_dir / "loss_curve.png",
            [h for h in history if h.get("event") == "step"],
            [h for h in history if h.get("event") == "eval"],
        )


def export(
    run_dir: Path,
    generator,
    g_config,
    config: TrainConfig,
    step: int,
    wall: float,
    device,
    steps_per_epoch: int,
    *,
    path: Path | None = None,
    name: str = "",
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write the generator as the app's self-describing model file.

    By default ``RUN_DIR/generator.safetensors`` in float32, named after the run.
    """
    evals = [h for h in read_jsonl(run_dir / "metrics.jsonl") if h.get("event") == "eval"]
    last = {k: v for k, v in (evals[-1] if evals else {}).items() if k not in ("event",)}
    info = ModelInfo(
        g_config,
        color_space=config.color_space,
        name=name or config.name or run_dir.name,
        training={
            "recipe": config.loss,
            "lambda_l1": config.lambda_l1,
            "steps": step,
            "epochs": round(step / steps_per_epoch, 3),
            "image_size": config.image_size,
            "batch_size": config.batch_size,
            "data": config.data,
            "wall_seconds": round(wall, 1),
            "device": str(device),
            "hardware": platform.processor() or platform.machine(),
            "warmup_epochs": config.warmup_epochs,
            "lr": config.lr,
            **_lineage(config.init_from),
        },
        metrics=last,
    )
    generator.eval()
    return save_generator(path or run_dir / "generator.safetensors", generator, info, dtype=dtype)


def _lineage(init_from: str) -> dict:
    """What a fine-tuned model started from: the base file and the base's own training."""
    if not init_from:
        return {}
    try:
        base = read_info(init_from)
    except ColorizerError:  # the base file moved since: its name is all we know
        return {"init_from": Path(init_from).name}
    keep = ("recipe", "steps", "epochs", "image_size", "wall_seconds", "device", "base")
    return {
        "init_from": Path(init_from).name,
        "base": {"name": base.name, **{k: base.training[k] for k in keep if k in base.training}},
    }


def _config_of(saved: dict):
    """The generator config a checkpoint saved as a plain dict (its fields tell the type)."""
    for config_cls, _ in GENERATOR_TYPES.values():
        try:
            return config_cls.from_dict(saved)
        except (TypeError, ValueError):
            continue
    raise ValueError(f"unknown generator settings {sorted(saved)}")


def export_checkpoint(
    run_dir: str | os.PathLike,
    path: str | os.PathLike,
    *,
    name: str = "",
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Export the generator of ``RUN_DIR/checkpoints/last.pt`` as a model file at ``path``.

    Lets a user take a model from a run that is still going, paused or was interrupted; the
    file carries the run's recipe and its latest validation numbers, like the final export.
    """
    run_dir = Path(run_dir)
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    try:
        config = TrainConfig.from_dict(state["config"])
        g_config = _config_of(state["g_config"])  # fine-tuned runs keep their base's design
        generator = build_generator(g_config)
        generator.load_state_dict(state["generator"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise TrainingError(f"{run_dir}: unusable checkpoint ({err})") from None
    step = int(state["step"])
    epoch = float(state.get("epoch") or 0.0)
    steps_per_epoch = max(1, round(step / epoch)) if epoch > 0 else max(1, step)
    return export(
        run_dir,
        generator,
        g_config,
        config,
        step,
        float(state.get("wall_seconds", 0.0)),
        config.device,
        steps_per_epoch,
        path=Path(path),
        name=name,
        dtype=dtype,
    )


# --- plumbing -----------------------------------------------------------------------------


def _prepare_run_dir(run_dir: Path, config: TrainConfig) -> None:
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
        write_text_atomically(run_dir / "config.json", config.to_json())
    except OSError as err:
        raise TrainingError(
            f"{run_dir}: cannot write the run folder ({err.strerror or err})"
        ) from None


def _init_distributed(config: TrainConfig) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and config.device != "cpu" else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def _device(config: TrainConfig, rank: int, world: int) -> torch.device:
    device = resolve_device(config.device)
    if device.type == "cuda" and world > 1:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


def _autocast(config: TrainConfig, device: torch.device):
    return autocast(device, config.precision)


def _ranks_agree(generator: nn.Module, world: int) -> bool:
    mine = torch.tensor([_fingerprint(generator)], dtype=torch.float64)
    everyone = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(everyone, mine)
    return all(torch.allclose(t, everyone[0], rtol=1e-9, atol=1e-9) for t in everyone)
