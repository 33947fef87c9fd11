"""Pack the training photos into one archive small enough to travel to a lent GPU machine.

The device tool sends the working tree and carried paths, 64 MiB in all, and the repository
itself is about 27 MB, so the ~160 MB of ``photos-train`` + ``photos-hires`` must shrink to
under ~38 MB. Training on 256 px crops with ``--scale-min 0.9`` resizes every photo so that
its short side is 256-285 px, so nothing above that is needed:

- photos-train: short side >= 208 px (smaller ones are upscaled more than 1.2x in training),
  long side centre-cropped to 1.2 x the short side, WebP quality 45;
- photos-hires: short side resized to 300 px, WebP quality 80.

One .tar.gz, not thousands of files (per-file overhead counts). Usage:
    python scripts/gpu/pack_data.py ../shared/data .gpudata/data.tar.gz
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import cv2

MIN_SHORT, MAX_ASPECT, TRAIN_QUALITY = 208, 1.2, 45
HIRES_SHORT, HIRES_QUALITY = 300, 80


def _train_photo(img):
    h, w = img.shape[:2]
    short = min(h, w)
    if short < MIN_SHORT:
        return None
    cap = round(MAX_ASPECT * short)
    if w > cap:
        x = (w - cap) // 2
        img = img[:, x : x + cap]
    if h > cap:
        y = (h - cap) // 2
        img = img[y : y + cap]
    return img, TRAIN_QUALITY


def _hires_photo(img):
    h, w = img.shape[:2]
    k = HIRES_SHORT / min(h, w)
    size = (round(w * k), round(h * k))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA), HIRES_QUALITY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data folder (../shared/data)")
    parser.add_argument("out", type=Path, help="archive to write (.tar.gz)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(args.out, "w:gz", compresslevel=1) as tar:
        for folder, member, shrink in (
            ("photos-train", "train", _train_photo),
            ("photos-hires", "hires", _hires_photo),
        ):
            for path in sorted((args.data / folder).glob("*.jpg")):
                img = cv2.imread(str(path))
                if img is None:
                    print(f"skipping {path}: cannot read it as an image")
                    continue
                made = shrink(img)
                if made is None:
                    continue
                img, quality = made
                ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, quality])
                if not ok:
                    raise SystemExit(f"{path}: could not encode")
                info = tarfile.TarInfo(f"{member}/{path.stem}.webp")
                info.size = len(buf)
                tar.addfile(info, io.BytesIO(buf.tobytes()))
                count += 1
    print(f"{count} photos -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
