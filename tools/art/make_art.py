"""Draws the artwork the Echo screens show while a track plays: `audio/art/letdown-art.png` (the square
cover art, 512 x 512) and `audio/art/letdown-background.png` (the player's background, 1280 x 800).

Calm, wordless images: a deep blue night gradient with a soft, glowing sea-green circle (the breathing
circle of the APL screen). Deterministic: the same bytes on every run (no timestamps, fixed zlib level).
Run: .venv/bin/python tools/art/make_art.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parents[2] / "audio" / "art"
NIGHT_TOP = np.array([0x14, 0x23, 0x3A], dtype=float)
NIGHT_BOTTOM = np.array([0x1E, 0x35, 0x50], dtype=float)
CIRCLE = np.array([0x8C, 0xC7, 0xBE], dtype=float)


def draw(width: int, height: int, radius_fraction: float) -> np.ndarray:
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    image = NIGHT_TOP * (1 - rows) + NIGHT_BOTTOM * rows
    image = np.broadcast_to(image, (height, width, 3)).copy()
    y, x = np.mgrid[0:height, 0:width]
    distance = np.hypot(x - width / 2, y - height / 2) / min(width, height)
    radius = radius_fraction
    # A solid circle with a soft edge, and a faint glow around it.
    body = np.clip((radius - distance) / 0.012, 0.0, 1.0) * 0.85
    glow = np.exp(-np.maximum(distance - radius, 0.0) / 0.06) * 0.25
    alpha = np.maximum(body, glow)[..., None]
    image = image * (1 - alpha) + CIRCLE * alpha
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, (width, height, radius) in {
        "letdown-art.png": (512, 512, 0.28),
        "letdown-background.png": (1280, 800, 0.22),
    }.items():
        path = OUT_DIR / name
        path.write_bytes(png_bytes(draw(width, height, radius)))
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
