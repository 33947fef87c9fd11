"""Old-photo degradations of the network's input L ("crappification", as DeOldify trains).

Real scans of old prints are faded, grainy, blurred, JPEG-compressed, vignetted, dusty and
scratched, sometimes printed with a halftone screen. Training on clean L only teaches the
network to colour such defects (orange scratches, blotches in grain). Each training sample's
L is degraded with probability ``p``; the truth a,b stay clean, so the network learns to
ignore the defects. Everything is drawn from the sample's own generator (reproducible).

All functions take and return L as float32 (H, W) in [0, 100].
"""

from __future__ import annotations

import cv2
import numpy as np


def tone(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Faded print: lifted blacks, dimmed whites, a gamma curve."""
    lo, hi = rng.uniform(0, 25), rng.uniform(75, 100)
    gamma = rng.uniform(0.7, 1.4)
    return lo + (hi - lo) * (L / 100.0) ** gamma


def blur(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Soft focus or a worn print."""
    return cv2.GaussianBlur(L, (0, 0), rng.uniform(0.4, 1.6))


def halftone(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A printed dot screen: a rotated 2-D sinusoid modulating the lightness."""
    h, w = L.shape
    period, angle = rng.uniform(2.5, 6.0), rng.uniform(0, np.pi / 2)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    screen = np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period)
    return L * (1.0 + rng.uniform(0.05, 0.2) * screen)


def jpeg(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blocky compression of an old scan."""
    quality = int(rng.integers(15, 70))
    gray = np.clip(L * 2.55, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return L
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 2.55


def grain(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Film grain: Gaussian noise, sometimes clumped by a slight blur."""
    noise = rng.normal(0.0, rng.uniform(1.0, 6.0), L.shape).astype(np.float32)
    if rng.random() < 0.5:
        noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.5, 1.0)) * 1.5
    return L + noise


def vignette(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Darkened corners."""
    h, w = L.shape
    y, x = np.ogrid[0:h, 0:w]
    r2 = ((y - h / 2) / (h / 2)) ** 2 + ((x - w / 2) / (w / 2)) ** 2
    return L * (1.0 - rng.uniform(0.1, 0.4) * np.clip(r2 / 2, 0, 1)).astype(np.float32)


def dust(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Specks of dust and mould: small dark or bright dots."""
    out = L.copy()
    h, w = L.shape
    for _ in range(int(rng.integers(3, 30))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        value = float(rng.uniform(0, 15) if rng.random() < 0.5 else rng.uniform(85, 100))
        cv2.circle(out, centre, int(rng.integers(0, 3)), value, -1)
    return out


def scratches(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thin, mostly vertical scratches, bright (emulsion gone) or dark."""
    out = L.copy()
    h, w = L.shape
    for _ in range(int(rng.integers(1, 5))):
        x0 = int(rng.integers(0, w))
        x1 = int(np.clip(x0 + rng.normal(0, w * 0.05), 0, w - 1))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        value = float(rng.uniform(85, 100) if rng.random() < 0.7 else rng.uniform(0, 15))
        cv2.line(out, (x0, y0), (x1, max(y1, y0 + h // 4)), value, 1)
    return out


# In the order an old photo collects them: the print, its printing, the scan, the years.
STEPS = (
    (tone, 0.6),
    (blur, 0.35),
    (halftone, 0.1),
    (jpeg, 0.3),
    (grain, 0.45),
    (vignette, 0.25),
    (dust, 0.25),
    (scratches, 0.2),
)


def degrade(L: np.ndarray, rng: np.random.Generator, p: float = 0.6) -> np.ndarray:
    """With probability ``p``, apply each step with its own probability; clip to [0, 100]."""
    if p <= 0 or rng.random() >= p:
        return L
    L = np.asarray(L, np.float32)
    for step, chance in STEPS:
        if rng.random() < chance:
            L = step(L, rng).astype(np.float32)
    return np.clip(L, 0.0, 100.0)
