"""Training data: four sources, one sample format, deterministic augmentation.

Sources (each a list of *items*; an item loads one colour image and, for paired folders, the
user's own gray version of it):

- :class:`ColorFolder`: colour photos; the gray input is derived from them.
- :class:`PairedFolders`: ``color/`` and ``gray/`` matched by relative path and stem, any
  extensions; unmatched files are reported; a gray image of another resolution is resized to
  its colour pair; pairs whose aspect ratios differ beyond ``ASPECT_TOLERANCE`` are rejected.
- :class:`Cifar10Tar`: CIFAR-10 JPEGs straight from ``cifar10-jpg.tar.gz``
  (``cifar10/{train,test}/<class>/NNNN.jpg``).
- :class:`LabNpy`: the Kaggle L/ab arrays (``l/gray_scale.npy``: N x H x W uint8 L scaled to
  0..255; ``ab/ab1.npy``, ``ab/ab2.npy``, ...: N_i x H x W x 2 uint8, a and b offset by 128).

A sample is ``(input, target)``: input ``(1, S, S)`` float32 ``L / 50 - 1``; target
``(2, S, S)`` ``ab / 110`` (Lab) or ``(3, S, S)`` RGB in [-1, 1]. Training samples are randomly
rescaled (the short side to ``S / s``, ``s`` in ``[scale_min, scale_max]``; images smaller than
the crop are therefore upscaled), rotated by a small angle, cropped to ``S`` and flipped; the
randomness is drawn from ``(seed, epoch, index)``, so a sample is the same whatever the
worker, process or resume. Validation samples are the centre crop after resizing the short
side to ``S``. The validation split is by file, never by crop.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorizer_app.engine.imageio import INPUT_EXTENSIONS, as_rgb8, read_image, to_8bit
from colorizer_app.engine.pipeline import fit_long_side
from models import hints
from models.color import (
    AB_SCALE,
    L_SCALE,
    l_to_gray8,
    lab_to_rgb,
    luminance,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
)
from models.errors import ColorizerError, ImageReadError
from trainer import degrade

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.02  # relative difference of width/height ratios allowed in a pair


class DataError(ColorizerError):
    """The training data cannot be used (empty, no pairs, unreadable archive, ...)."""


@dataclass
class Loaded:
    """One decoded training image: RGB uint8 (H, W, 3) and optional gray uint8 (H, W)."""

    rgb: np.ndarray
    gray: np.ndarray | None = None


@dataclass
class Report:
    """What a source found: usable items and what it had to leave out, with reasons."""

    items: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def by_reason(self, shown: int = 3) -> dict[str, tuple[int, list[str]]]:
        """Left-out files grouped by reason (details in parentheses ignored): the count and
        the first ``shown`` file names of each."""
        groups: dict[str, list[str]] = {}
        for name, reason in self.skipped:
            groups.setdefault(reason.split(" (")[0], []).append(Path(name).name)
        return {reason: (len(names), names[:shown]) for reason, names in groups.items()}

    def summary(self, shown: int = 3) -> str:
        """One line: ``7 file(s) left out: 4 no gray file of this name (a.jpg, b.jpg, …); …``."""
        parts = []
        for reason, (count, names) in self.by_reason(shown).items():
            more = ", …" if count > len(names) else ""
            parts.append(f"{count} {reason} ({', '.join(names)}{more})")
        return f"{len(self.skipped)} file(s) left out: " + "; ".join(parts)


def _image_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in INPUT_EXTENSIONS and not p.name.startswith(".")
    )


class ColorFolder:
    """Every image under a folder (recursively); gray is derived from the colour."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: not a folder")
        self.files = _image_files(self.root)
        self.report = Report(items=len(self.files))
        if not self.files:
            raise DataError(f"{self.root}: no images found (JPEG, PNG, TIFF, BMP, WebP)")

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return str(self.files[index].relative_to(self.root))

    def load(self, index: int) -> Loaded:
        return Loaded(as_rgb8(read_image(self.files[index]).pixels))


class PairedFolders:
    """``color/`` and ``gray/`` folders matched by relative folder and file stem."""

    def __init__(self, color_dir: str | Path, gray_dir: str | Path, *, check: bool = True) -> None:
        self.color_dir, self.gray_dir = Path(color_dir), Path(gray_dir)
        for folder in (self.color_dir, self.gray_dir):
            if not folder.is_dir():
                raise DataError(f"{folder}: not a folder")
        colors = self._by_key(self.color_dir)
        grays = self._by_key(self.gray_dir)
        self.report = Report()
        self.pairs: list[tuple[Path, Path]] = []
        for key, paths in sorted(colors.items()):
            if len(paths) > 1:
                self.report.skipped.append((str(paths[1]), f"same name as {paths[0].name}"))
            if key not in grays:
                self.report.skipped.append((str(paths[0]), "no gray file of this name"))
                continue
            problem = self._check_pair(paths[0], grays[key][0]) if check else ""
            if problem:
                self.report.skipped.append((str(paths[0]), problem))
            else:
                self.pairs.append((paths[0], grays[key][0]))
        for key, paths in sorted(grays.items()):
            if key not in colors:
                self.report.skipped.append((str(paths[0]), "no colour file of this name"))
        self.report.items = len(self.pairs)
        if not self.pairs:
            raise DataError(
                f"no matching pairs between {self.color_dir} and {self.gray_dir} "
                f"({len(colors)} colour and {len(grays)} gray files; pairs need the same "
                "relative folder and file name, any extension)"
            )

    @staticmethod
    def _by_key(root: Path) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = defaultdict(list)
        for path in _image_files(root):
            rel = path.relative_to(root)
            found[str(rel.parent / rel.stem).lower()].append(path)
        return found

    @staticmethod
    def _check_pair(color: Path, gray: Path) -> str:
        sizes = []
        for kind, path in (("colour", color), ("gray", gray)):
            try:
                with Image.open(path) as image:
                    sizes.append(image.size)
            except (OSError, Image.UnidentifiedImageError):
                return f"unreadable {kind} file ({path.name})"
        (wa, ha), (wb, hb) = sizes
        if min(wa, ha, wb, hb) <= 0:
            return "zero-size image"
        ratio_a, ratio_b = wa / ha, wb / hb
        if abs(ratio_a - ratio_b) / ratio_a > ASPECT_TOLERANCE:
            return f"aspect ratios differ ({wa}x{ha} colour vs {wb}x{hb} gray)"
        return ""

    def __len__(self) -> int:
        return len(self.pairs)

    def name(self, index: int) -> str:
        return str(self.pairs[index][0].relative_to(self.color_dir))

    def load(self, index: int) -> Loaded:
        color_path, gray_path = self.pairs[index]
        rgb = as_rgb8(read_image(color_path).pixels)
        gray = to_8bit(read_image(gray_path).pixels)
        if gray.ndim == 3:  # a "gray" file stored as RGB: use its luminance
            gray = l_to_gray8(luminance(gray))
        if gray.shape != rgb.shape[:2]:
            gray = cv2.resize(
                gray,
                (rgb.shape[1], rgb.shape[0]),
                interpolation=cv2.INTER_AREA if gray.shape[0] > rgb.shape[0] else cv2.INTER_CUBIC,
            )
        return Loaded(rgb, gray)


class Cifar10Tar:
    """CIFAR-10 from the project's tar.gz of JPEGs; decoded once into memory (32x32 RGB)."""

    def __init__(self, archive: str | Path, split: str = "train") -> None:
        self.archive = Path(archive)
        if not self.archive.is_file():
            raise DataError(f"{self.archive}: CIFAR-10 archive not found")
        images, names = [], []
        try:
            with tarfile.open(self.archive, "r:*") as tar:
                for member in tar:
                    parts = Path(member.name).parts
                    if (
                        not member.isfile()
                        or split not in parts
                        or not member.name.endswith(".jpg")
                    ):
                        continue
                    data = tar.extractfile(member).read()
                    images.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
                    names.append(member.name)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise DataError(f"{self.archive}: unreadable archive ({err})") from None
        if not images:
            raise DataError(
                f"{self.archive}: no '{split}' JPEGs inside (expected "
                "cifar10/{train,test}/<class>/NNNN.jpg)"
            )
        order = np.argsort(names)
        self.names = [names[i] for i in order]
        self.images = np.stack([images[i] for i in order])
        self.report = Report(items=len(self.images))

    def __len__(self) -> int:
        return len(self.images)

    def name(self, index: int) -> str:
        return self.names[index]

    def load(self, index: int) -> Loaded:
        return Loaded(self.images[index])


class LabNpy:
    """The Kaggle L/ab arrays: ``l/gray_scale.npy`` and ``ab/ab*.npy`` (memory-mapped)."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        l_path = root / "l" / "gray_scale.npy"
        ab_paths = sorted((root / "ab").glob("ab*.npy"), key=lambda p: (len(p.name), p.name))
        if not l_path.is_file() or not ab_paths:
            raise DataError(f"{root}: expected l/gray_scale.npy and ab/ab1.npy, ab2.npy, ...")
        try:
            self.L = np.load(l_path, mmap_mode="r")
            self.ab = [np.load(p, mmap_mode="r") for p in ab_paths]
        except (OSError, ValueError) as err:
            raise DataError(f"{root}: unreadable .npy arrays ({err})") from None
        self.offsets = np.cumsum([0] + [len(a) for a in self.ab])
        if self.L.ndim != 3 or any(a.ndim != 4 or a.shape[3] != 2 for a in self.ab):
            raise DataError(f"{root}: L must be N x H x W and ab N x H x W x 2")
        if self.offsets[-1] != len(self.L) or any(
            a.shape[1:3] != self.L.shape[1:] for a in self.ab
        ):
            raise DataError(
                f"{root}: L holds {len(self.L)} images but ab {self.offsets[-1]}, "
                "or their sizes differ"
            )
        self.report = Report(items=len(self.L))

    def __len__(self) -> int:
        return len(self.L)

    def name(self, index: int) -> str:
        return f"npy#{index}"

    def load(self, index: int) -> Loaded:
        part = int(np.searchsorted(self.offsets, index, side="right") - 1)
        ab = np.asarray(self.ab[part][index - self.offsets[part]], np.float32) - 128.0
        L = np.asarray(self.L[index], np.float32) * (100.0 / 255.0)
        lab = np.concatenate([L[..., None], ab], axis=2)
        return Loaded(lab_to_rgb(lab, np.uint8))


class Sources:
    """Several sources read as one (``--data A{sep}B``): items in order, names prefixed."""

    def __init__(self, parts: list) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.report = Report(
            items=int(self.offsets[-1]),
            skipped=[item for p in parts for item in p.report.skipped],
        )

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _locate(self, index: int):
        part = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.parts[part], index - int(self.offsets[part])

    def name(self, index: int) -> str:
        source, i = self._locate(index)
        return source.name(i)

    def load(self, index: int) -> Loaded:
        source, i = self._locate(index)
        return source.load(i)


def open_source(config) -> ColorFolder | PairedFolders | Cifar10Tar | LabNpy | Sources:
    """Pick the source a :class:`~trainer.config.TrainConfig` describes (``auto``: by layout).

    ``data`` may list several folders separated by ``os.pathsep`` (``:``; ``;`` on Windows):
    they are read as one source.
    """
    if not str(config.data):
        raise DataError("no training data given")
    parts = [p for p in str(config.data).split(os.pathsep) if p]
    if len(parts) > 1:
        from types import SimpleNamespace

        return Sources(
            [
                open_source(SimpleNamespace(data=p, source=config.source, gray_dir=config.gray_dir))
                for p in parts
            ]
        )
    path = Path(config.data)
    kind = config.source
    if kind == "auto":
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
            kind = "cifar10"
        elif (path / "l" / "gray_scale.npy").exists():
            kind = "npy"
        elif config.gray_dir or ((path / "color").is_dir() and (path / "gray").is_dir()):
            kind = "paired"
        elif (path / "color").is_dir():
            path, kind = path / "color", "folder"
        else:
            kind = "folder"
    if not path.exists():
        raise DataError(f"{path}: training data not found")
    if kind == "cifar10":
        return Cifar10Tar(path, "train")
    if kind == "npy":
        return LabNpy(path)
    if kind == "paired":
        color = path / "color" if (path / "color").is_dir() else path
        return PairedFolders(color, config.gray_dir or path / "gray")
    return ColorFolder(path)


@dataclass
class Inspection:
    """What training on some data would see: for the train tab's check before starting."""

    kind: str  # folder, paired, cifar10 or npy
    items: int
    skipped: list[tuple[str, str]]  # (file, reason) left out
    samples: list[tuple[str, np.ndarray, np.ndarray]]  # (name, gray RGB, colour RGB) thumbnails


def inspect_data(
    data: str | Path, gray_dir: str | Path = "", *, samples: int = 4, size: int = 128
) -> Inspection:
    """Open the data as training would and return counts, what was left out and why, and a
    few (gray, colour) thumbnail pairs with the long side at most ``size`` pixels."""
    from types import SimpleNamespace

    source = open_source(
        SimpleNamespace(data=str(data), source="auto", gray_dir=str(gray_dir or ""))
    )
    kind = {
        ColorFolder: "folder",
        PairedFolders: "paired",
        Cifar10Tar: "cifar10",
        LabNpy: "npy",
        Sources: "folders",
    }[type(source)]
    skipped = list(source.report.skipped)
    shown: list[tuple[str, np.ndarray, np.ndarray]] = []
    picks = np.linspace(0, len(source) - 1, num=min(samples, len(source))).round().astype(int)
    for index in dict.fromkeys(picks.tolist()):
        loaded = load_or_skip(source, index)
        if loaded is None:
            skipped.append((source.name(index), "unreadable image"))
            continue
        rgb = loaded.rgb
        gray = loaded.gray
        if gray is None:
            gray = l_to_gray8(luminance(rgb))
        gray = as_rgb8(fit_long_side(gray, size))
        shown.append((source.name(index), gray, fit_long_side(rgb, size)))
    return Inspection(kind, len(source), skipped, shown)


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic split by item: (train, validation). One item: validation = training."""
    if n == 0:
        raise DataError("the training data holds no images")
    if n == 1:
        log.warning("only one image: it is used for both training and validation")
        return np.array([0]), np.array([0])
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(n - 1, max(1, round(n * fraction))) if fraction > 0 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _resize_short(img: np.ndarray, short: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = short / min(h, w)
    size = (max(short, round(w * scale)), max(short, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


class SampleMaker:
    """Turns a loaded image into a training or validation sample (see module docstring).

    ``hints``: the input gains the three hint channels (:mod:`models.hints`), simulated from
    the truth for training samples (none for validation; ``hints_per_crop`` of them on average
    when a sample gets any). ``degrade``: the probability that a
    training sample's input L is aged (:mod:`trainer.degrade`); the target stays clean.
    """

    def __init__(
        self,
        size: int,
        color_space: str,
        *,
        scale=(0.6, 1.0),
        rotate=5.0,
        flip=True,
        seed=0,
        hints: bool = False,
        hints_per_crop: float = 8.0,
        degrade: float = 0.0,
    ) -> None:
        self.size, self.color_space = size, color_space
        self.scale, self.rotate, self.flip, self.seed = scale, rotate, flip, seed
        self.hints, self.hints_per_crop, self.degrade = hints, hints_per_crop, degrade
        if hints and color_space != "lab":
            raise DataError("colour hints need a Lab model")

    def train(self, loaded: Loaded, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch, index])
        stack = self._stack(loaded)
        s = rng.uniform(*self.scale)
        stack = _resize_short(stack, int(np.ceil(self.size / s)))
        if self.rotate > 0:
            angle = rng.uniform(-self.rotate, self.rotate)
            h, w = stack.shape[:2]
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            stack = cv2.warpAffine(
                stack, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
            )
        h, w = stack.shape[:2]
        y = rng.integers(0, h - self.size + 1)
        x = rng.integers(0, w - self.size + 1)
        stack = stack[y : y + self.size, x : x + self.size]
        if self.flip and rng.random() < 0.5:
            stack = stack[:, ::-1]
        gray, target = self._tensors(stack, loaded.gray is not None)
        # Drawn after the geometry, so runs without these options keep their old samples.
        if self.degrade > 0:
            L = degrade.degrade((gray[0] + 1.0) * L_SCALE, rng, self.degrade)
            gray = normalize_l(L)[None]
        return self._with_hints(gray, target, rng)

    def validation(self, loaded: Loaded) -> tuple[np.ndarray, np.ndarray]:
        stack = _resize_short(self._stack(loaded), self.size)
        h, w = stack.shape[:2]
        y, x = (h - self.size) // 2, (w - self.size) // 2
        gray, target = self._tensors(
            stack[y : y + self.size, x : x + self.size], loaded.gray is not None
        )
        return self._with_hints(gray, target, None)

    def _with_hints(self, gray, target, rng) -> tuple[np.ndarray, np.ndarray]:
        """Append the hint channels: simulated from the truth with ``rng``, none without."""
        if not self.hints:
            return gray, target
        found = (
            []
            if rng is None
            else hints.simulate(
                target.transpose(1, 2, 0) * AB_SCALE, rng, p_more=1 / self.hints_per_crop
            )
        )
        channels = hints.rasterize(self.size, self.size, found).transpose(2, 0, 1)
        return np.concatenate([gray, channels]), target

    @staticmethod
    def _stack(loaded: Loaded) -> np.ndarray:
        """RGB (+ gray as a 4th channel) so every geometric step applies to both alike."""
        if loaded.gray is None:
            return np.ascontiguousarray(loaded.rgb)
        return np.dstack([loaded.rgb, loaded.gray])

    def _tensors(self, stack: np.ndarray, has_gray: bool) -> tuple[np.ndarray, np.ndarray]:
        rgb = np.ascontiguousarray(stack[..., :3])
        L = luminance(np.ascontiguousarray(stack[..., 3])) if has_gray else None
        if self.color_space == "lab":
            lab = rgb_to_lab(rgb)
            target = normalize_ab(lab[..., 1:]).transpose(2, 0, 1)
            L = lab[..., 0] if L is None else L
        else:
            target = (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
            L = luminance(rgb) if L is None else L
        return normalize_l(L)[None], np.ascontiguousarray(target, np.float32)


READ_ERRORS = (ImageReadError, ColorizerError, OSError, ValueError)  # a file we cannot use


def load_or_skip(source, index: int) -> Loaded | None:
    """Load an item; an unreadable one is logged and skipped (None), never fatal."""
    try:
        return source.load(index)
    except READ_ERRORS as err:
        log.warning("skipping %s: %s", source.name(index), err)
        return None


def first_line(err: Exception) -> str:
    """The reason in an error's message, without the file's path (the caller names it)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    head, sep, tail = text.partition(": ")
    return (tail if sep and os.sep in head else text)[:160]


def unreadable(source, indices) -> list[tuple[str, str]]:
    """(name, reason) of the items among ``indices`` that cannot be loaded."""
    found = []
    for index in indices:
        try:
            source.load(int(index))
        except READ_ERRORS as err:
            found.append((source.name(int(index)), first_line(err)))
    return found


def ab_histogram(source, indices, bins: np.ndarray, *, limit: int = 800, side: int = 64):
    """How often each a,b bin occurs in (up to ``limit`` evenly spread) training images,
    each resized so that its short side is ``side`` px: the colour prior's raw counts."""
    from models.colorbins import histogram

    spread = np.linspace(0, len(indices) - 1, min(limit, len(indices))).astype(int)
    picks = np.asarray(indices)[spread]
    counts = np.zeros(len(bins), np.int64)
    for index in dict.fromkeys(picks.tolist()):
        loaded = load_or_skip(source, int(index))
        if loaded is None:
            continue
        small = _resize_short(np.ascontiguousarray(loaded.rgb), side)
        counts += histogram(rgb_to_lab(small)[..., 1:], bins)
    return counts
