"""What the training loop reads: training and validation samples made on the fly (unreadable
files skipped and told once), collated into batches, and each epoch's order of them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from trainer.config import TrainConfig
from trainer.data import READ_ERRORS, SampleMaker, first_line

log = logging.getLogger(__name__)


class Samples(Dataset):
    def __init__(self, source, indices, maker: SampleMaker, train: bool) -> None:
        self.source, self.indices, self.maker, self.train = source, indices, maker, train
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        try:
            loaded = self.source.load(index)
        except READ_ERRORS as err:  # skipped; the main process warns once per file
            return Unreadable(self.source.name(index), first_line(err))
        if self.train:
            return self.maker.train(loaded, index, self.epoch)
        return self.maker.validation(loaded)


class Unreadable(NamedTuple):
    name: str
    why: str


class Batch(NamedTuple):
    tensors: tuple[torch.Tensor, torch.Tensor] | None  # None: nothing in it was readable
    unreadable: list[Unreadable]


def collate(batch) -> Batch:
    readable = [b for b in batch if not isinstance(b, Unreadable)]
    skipped = [b for b in batch if isinstance(b, Unreadable)]
    if not readable:
        return Batch(None, skipped)
    stacked = (
        torch.from_numpy(np.stack([b[0] for b in readable])),
        torch.from_numpy(np.stack([b[1] for b in readable])),
    )
    return Batch(stacked, skipped)


class UnreadableWarnings:
    """Unreadable training files, each told once (the loader meets them every epoch)."""

    def __init__(self, emit: Callable[[dict], None]) -> None:
        self.emit, self.told = emit, set()

    def __call__(self, unreadable: list[Unreadable]) -> None:
        for bad in unreadable:
            if bad.name not in self.told:
                self.told.add(bad.name)
                message = f"skipping {bad.name}: {bad.why} (told once)"
                log.debug(message)  # the event is the report (CLI line, Train tab log)
                self.emit({"event": "warning", "message": message})


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


# --- schedules (pure) ----------------------------------------------------------------------


def epoch_loader(
    train_set,
    config: TrainConfig,
    step: int,
    steps_per_epoch: int,
    rank,
    world,
    *,
    pin_memory: bool = False,
):
    """The rest of the epoch that ``step`` falls in, as a DataLoader (``pin_memory`` when
    the batches go to a CUDA device)."""
    epoch = step // steps_per_epoch
    train_set.epoch = epoch
    batches = epoch_batches(len(train_set), config.batch_size, epoch, config.seed, rank, world)
    # Its own generator: creating a loader must not draw from the global RNG, which drives
    # dropout and is saved in checkpoints (resume equivalence).
    return DataLoader(
        train_set,
        batch_sampler=batches[step % steps_per_epoch :],
        collate_fn=collate,
        num_workers=config.workers,
        # page-locked batches: the copy to a GPU is faster and does not block the host
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(config.seed + epoch),
    )
