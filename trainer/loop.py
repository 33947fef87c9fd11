"""The training loop: regression (L1/MSE), colour distribution, hints, optional PatchGAN.

One explicit loop with commented phases, packaged as ``train(config, progress, on_event)``;
its pieces have names: :func:`trainer.state.build_state` (networks, optimisers, resume),
:func:`d_step` and :func:`g_step` (one optimisation step each), the losses in
:mod:`trainer.losses`, the samples and batches in :mod:`trainer.samples`, validation and the
comparison with a fine-tune's base in :mod:`trainer.validation`, and the pure schedules
:func:`learning_rate`, :func:`should_evaluate`, :func:`should_checkpoint`. Runs under
``torchrun`` with DistributedDataParallel (gloo on CPU, nccl on CUDA) with the same options.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from models.atomic import Claim, remove_stale_temps, write_text_atomically
from models.device import autocast, resolve_device
from models.errors import Cancelled
from models.modelfile import load_generator
from models.progress import NullProgress, Progress
from trainer.config import TrainConfig
from trainer.data import (
    SampleMaker,
    open_source,
    split_indices,
    unreadable,
)
from trainer.export import export, export_checkpoint
from trainer.losses import Adversarial, DistributionLoss, reconstruction
from trainer.report import (
    append_jsonl,
    drop_after,
)
from trainer.samples import Samples, UnreadableWarnings, epoch_batches, epoch_loader
from trainer.state import TrainingError, TrainState, build_state, fingerprint
from trainer.validation import LossCurve, compare_with_base, evaluate

log = logging.getLogger(__name__)

Event = dict
EventFn = Callable[[Event], None]

__all__ = ["TrainingError", "export", "export_checkpoint", "learning_rate", "train"]


# --- schedules ----------------------------------------------------------------------------


def learning_rate(step: int, total: int, base: float, decay_start: float) -> float:
    """Constant, then linear decay to zero over the last (1 - decay_start) of the run."""
    if decay_start <= 0 or total <= 0:
        return base
    start = decay_start * total
    if step < start:
        return base
    return base * max(0.0, 1.0 - (step - start) / max(1.0, total - start))


def should_evaluate(step: int, total: int, steps_per_epoch: int, eval_every: int) -> bool:
    """Every ``eval_every`` steps (0: at each epoch end) and at the last step."""
    if step == total:
        return True
    if eval_every:
        return step % eval_every == 0
    return step % steps_per_epoch == 0


def should_checkpoint(step: int, total: int, steps_per_epoch: int, every: int) -> bool:
    """Every ``every`` steps, at the last step, and at epoch ends unless epochs are short (a
    small fine-tuning folder must not write a checkpoint every few steps)."""
    end_of_epoch = step % steps_per_epoch == 0
    return step % every == 0 or step == total or (end_of_epoch and steps_per_epoch >= every)


# --- one optimisation step each -------------------------------------------------------------


class _DiscriminatorPair(nn.Module):
    """Runs D on the real and the fake pair in one call (one DDP forward per backward), keeping
    their BatchNorm statistics separate as pix2pix does."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        return self.d(real), self.d(fake)


@dataclass
class Objective:
    """The losses a recipe trains with, and their weights."""

    recon: nn.Module
    recon_name: str  # "g_l1" or "g_mse" in the metrics
    recon_weight: float  # lambda with a GAN term, reg_weight with a distribution head, else 1
    distribution: DistributionLoss | None
    ce_weight: float
    adversarial: Adversarial | None  # None: no discriminator in this recipe

    @classmethod
    def for_run(cls, config: TrainConfig, generator: nn.Module, device) -> Objective:
        heads = getattr(generator.config, "num_bins", 0)
        distribution = (
            DistributionLoss(generator.ab_bins, generator.ab_prior, mix=config.rebalance).to(device)
            if heads
            else None
        )
        return cls(
            recon=reconstruction(config.loss),
            recon_name="g_mse" if config.loss == "mse" else "g_l1",
            recon_weight=config.reg_weight if heads else 1.0,
            distribution=distribution,
            ce_weight=config.ce_weight,
            adversarial=Adversarial() if config.adversarial else None,
        )


def d_step(d_pair, state: TrainState, adv: Adversarial, gray, target, fake, autocast, scaler):
    """Discriminator on real pairs -> 1 and fake pairs (``fake.detach()``) -> 0."""
    state.discriminator.requires_grad_(True)
    with autocast:
        pred_real, pred_fake = d_pair(
            torch.cat([gray, target], 1), torch.cat([gray, fake.detach()], 1)
        )
        d_real, d_fake = adv(pred_real, real=True), adv(pred_fake, real=False)
        loss_d = 0.5 * (d_real + d_fake)
    state.opt_d.zero_grad(set_to_none=True)
    scaler.scale(loss_d).backward()
    scaler.step(state.opt_d)
    scaler.update()
    return {"d_real": d_real.item(), "d_fake": d_fake.item()}


def g_step(
    state: TrainState,
    objective: Objective,
    gray,
    target,
    fake,
    logits,
    *,
    adversarial: bool,
    lambda_l1: float,
    autocast,
    scaler,
) -> dict:
    """Generator: close to the truth (regression head), the truth's colour probable
    (distribution head), and, in the adversarial phase, fooling D (frozen)."""
    terms = {}
    with autocast:
        rec = objective.recon(fake.float(), target)
        loss = rec * (lambda_l1 if adversarial else objective.recon_weight)
        terms[objective.recon_name] = rec
        if logits is not None:
            ce = objective.distribution(logits, target)
            loss = loss + objective.ce_weight * ce
            terms["g_ce"] = ce
        if adversarial:
            state.discriminator.requires_grad_(False)
            pred = state.discriminator(torch.cat([gray, fake], 1))
            g_adv = objective.adversarial(pred, real=True)
            loss = loss + g_adv
            terms["g_adv"] = g_adv
    state.opt_g.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(state.opt_g)
    scaler.update()
    # Read the values once the whole step is queued: on a GPU, .item() waits for the device,
    # and before the backward pass it would hold back queuing the rest of the step.
    return {name: value.item() for name, value in terms.items()}


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
    emit = (on_event or (lambda e: None)) if rank == 0 else (lambda e: None)
    run_dir = Path(config.run_dir)
    claim = _claim_run_dir(run_dir) if rank == 0 else None
    try:
        if rank == 0:
            _prepare_run_dir(run_dir, config)
        if world > 1:
            dist.barrier()
        return _train(config, progress, emit, rank=rank, world=world, run_dir=run_dir)
    finally:
        if claim is not None:
            claim.release()
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _claim_run_dir(run_dir: Path) -> Claim:
    """Make the run folder ours for the whole run: a second process training into it would
    overwrite its checkpoints. Then remove what a killed run left there (temporary
    checkpoints, models and samples of our naming)."""
    claim = Claim(run_dir / "run")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        holder = claim.acquire()
    except OSError as err:
        raise TrainingError(
            f"{run_dir}: cannot write the run folder ({err.strerror or err})"
        ) from None
    if holder is not None:
        raise TrainingError(
            f"{run_dir} is being trained by process {holder}; wait for it to end or choose "
            "another run folder"
        )
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
        for path in remove_stale_temps(folder):
            log.info("removed %s, left by a run that was killed", path)
    return claim


class _Clock:
    """Training time: wall time of this session minus paused time, plus earlier sessions'."""

    def __init__(self, before: float) -> None:
        self.before, self.started, self.held = before, time.perf_counter(), 0.0
        self.window_start, self.window_images = time.perf_counter(), 0

    def hold(self, seconds: float) -> None:
        self.held += seconds
        self.window_start += seconds

    def wall(self) -> float:
        return self.before + time.perf_counter() - self.started - self.held

    def images_per_s(self) -> float:
        rate = self.window_images / max(time.perf_counter() - self.window_start, 1e-9)
        self.window_start, self.window_images = time.perf_counter(), 0
        return rate


def _train(config: TrainConfig, progress, emit, *, rank: int, world: int, run_dir: Path) -> Path:
    main = rank == 0
    device = _device(config, rank, world)
    torch.manual_seed(config.seed)
    ckpt_path = run_dir / "checkpoints" / "last.pt"

    # Data: split by file, deterministic per-sample augmentation (and hints, ageing).
    source = open_source(config)
    train_idx, val_idx = split_indices(len(source), config.val_fraction, config.seed)
    if config.max_images:
        train_idx = train_idx[: config.max_images]

    # Networks, optimisers, weight average; fine-tune from a file or resume the checkpoint.
    state, resumed = build_state(config, device, ckpt_path, source, train_idx)
    if resumed:
        if main:
            drop_after(run_dir / "metrics.jsonl", state.step)
        emit({"event": "resume", "step": state.step, "checkpoint": str(ckpt_path)})
    takes_hints = state.g_config.hint_channels > 0  # a hint model keeps learning hints
    maker = SampleMaker(
        config.image_size,
        config.color_space,
        scale=(config.scale_min, config.scale_max),
        rotate=config.rotate_degrees,
        flip=config.flip,
        seed=config.seed,
        hints=takes_hints,
        hints_per_crop=config.hints_per_crop,
        degrade=config.degrade,
    )
    train_set = Samples(source, train_idx, maker, train=True)
    val_set = Samples(source, val_idx[: config.val_max], maker, train=False)
    steps_per_epoch = len(epoch_batches(len(train_set), config.batch_size, 0, 0, 0, world))
    total_steps = config.steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)

    g_ddp = DDP(state.generator) if world > 1 else state.generator
    d_pair = _DiscriminatorPair(state.discriminator)
    d_ddp = DDP(d_pair) if world > 1 else d_pair
    if config.compile:
        g_ddp = torch.compile(g_ddp)
    objective = Objective.for_run(config, state.generator, device)
    autocast = _autocast(config, device)
    fp16 = config.precision == "fp16"
    scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
    scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)
    clock, curve = _Clock(state.wall_before), LossCurve()

    def checkpoint() -> None:
        if main:
            state.save(ckpt_path, config, steps_per_epoch, clock.wall())
            emit({"event": "checkpoint", "step": state.step, "path": str(ckpt_path)})

    emit(
        {
            "event": "start",
            "total_steps": total_steps,
            "steps_per_epoch": steps_per_epoch,
            "train_images": len(train_set),
            "val_images": len(val_set),
            "device": str(device),
            "world_size": world,
            "step": state.step,
            "run_dir": str(run_dir),
        }
    )
    if source.report.skipped:  # what the data had that training cannot use, once, up front
        emit({"event": "data", "items": len(source), "message": source.report.summary()})
    warn = UnreadableWarnings(emit)
    pinned = device.type == "cuda"
    try:
        while state.step < total_steps:
            at_start = state.step
            loader = epoch_loader(
                train_set, config, state.step, steps_per_epoch, rank, world, pin_memory=pinned
            )
            for batch in loader:
                waited = time.perf_counter()
                progress.check_cancelled()  # holds here while the user pauses
                clock.hold(time.perf_counter() - waited)
                warn(batch.unreadable)
                if batch.tensors is None:
                    continue  # every file of this batch was unreadable
                # --- data and schedule
                inputs, target = (t.to(device, non_blocking=True) for t in batch.tensors)
                if config.channels_last:
                    inputs = inputs.contiguous(memory_format=torch.channels_last)
                gray = inputs[:, :1]  # L alone: what D sees and judges colour against
                lr = learning_rate(state.step, total_steps, config.lr, config.lr_decay_start)
                _set_lr(state.opt_g, lr)
                _set_lr(state.opt_d, lr * (config.lr_d or config.lr) / config.lr)
                adversarial = objective.adversarial is not None and state.step >= warmup_steps
                record = {
                    "event": "step",
                    "step": state.step + 1,
                    "epoch": (state.step + 1) / steps_per_epoch,
                    "lr": lr,
                }
                # --- forward G (both heads when it has a distribution head)
                with autocast:
                    if objective.distribution is not None:
                        fake, logits = g_ddp(inputs, logits=True)
                    else:
                        fake, logits = g_ddp(inputs), None
                # --- D step on fake.detach(), then G step with D frozen
                if adversarial:
                    record.update(
                        d_step(
                            d_ddp,
                            state,
                            objective.adversarial,
                            gray,
                            target,
                            fake,
                            autocast,
                            scaler_d,
                        )
                    )
                record.update(
                    g_step(
                        state,
                        objective,
                        gray,
                        target,
                        fake,
                        logits,
                        adversarial=adversarial,
                        lambda_l1=config.lambda_l1,
                        autocast=autocast,
                        scaler=scaler_g,
                    )
                )
                _check_finite(record, state.step + 1, ckpt_path)
                state.step += 1
                state.update_average()
                clock.window_images += len(inputs) * world
                # --- log
                step = state.step
                if main and (step % config.log_every == 0 or step == total_steps):
                    record.update(images_per_s=clock.images_per_s(), total_steps=total_steps)
                    append_jsonl(run_dir / "metrics.jsonl", record)
                    emit(record)
                progress.update(step, total_steps, "training")
                # --- evaluate, checkpoint
                if main and should_evaluate(step, total_steps, steps_per_epoch, config.eval_every):
                    evaluate(
                        state.final_generator, val_set, config, device, step, run_dir, emit, warn
                    )
                    curve.write(run_dir, final=step >= total_steps)
                    state.generator.train()
                if should_checkpoint(step, total_steps, steps_per_epoch, config.checkpoint_every):
                    checkpoint()
                if step >= total_steps:
                    break
            if state.step == at_start:  # a whole pass without one readable image
                raise TrainingError(_nothing_readable(source, train_idx))
    except Cancelled:
        checkpoint()
        if main:
            curve.write(run_dir, final=True)
        emit({"event": "cancelled", "step": state.step})
        raise
    if world > 1:
        agree = _ranks_agree(state.generator, world)
        emit({"event": "ddp_check", "world_size": world, "ranks_agree": agree})
    if not main:
        return run_dir / "generator.safetensors"
    out = export(
        run_dir,
        state.final_generator,
        state.g_config,
        config,
        state.step,
        clock.wall(),
        device,
        steps_per_epoch,
    )
    base = load_generator(config.init_from) if config.init_from else None
    if base is not None and base.info.color_space == config.color_space:  # a fine-tune
        base_module = base.module.to(device)
        compared = compare_with_base(
            state.final_generator, base_module, val_set, config, device, warn
        )
        if compared:
            record = {"event": "compare", "step": state.step, "base_file": config.init_from}
            append_jsonl(run_dir / "metrics.jsonl", {**record, **compared})
            emit({**record, **compared})
    emit({"event": "done", "step": state.step, "model": str(out)})
    return out


def _nothing_readable(source, indices, shown: int = 5) -> str:
    problems = unreadable(source, indices[: shown * 4])[:shown]
    listed = "; ".join(f"{name}: {why}" for name, why in problems)
    return (
        f"none of the {len(indices)} training images could be read ({listed}"
        f"{'; ...' if len(indices) > len(problems) else ''})"
    )


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _check_finite(record: dict, step: int, ckpt_path: Path) -> None:
    losses = [v for k, v in record.items() if k.startswith(("g_", "d_"))]
    if not all(math.isfinite(v) for v in losses):
        raise TrainingError(
            f"loss became NaN/Inf at step {step} ({record}); stopped. The last "
            f"checkpoint ({ckpt_path}) is intact: lower the learning rate or use "
            "--precision fp32, then resume"
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
    mine = torch.tensor([fingerprint(generator)], dtype=torch.float64)
    everyone = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(everyone, mine)
    return all(torch.allclose(t, everyone[0], rtol=1e-9, atol=1e-9) for t in everyone)
