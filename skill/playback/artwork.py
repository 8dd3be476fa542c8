"""The images Echo screens show while a track plays (AudioPlayer metadata `art` and `backgroundImage`).

Drawn by tools/art/make_art.py into audio/art/ and served by this service at /art/<file>?v=<sha256 prefix>
(versioned like the tracks, so devices and CDNs may cache them for good). URLs use LETDOWN_PUBLIC_URL,
which must be HTTPS in production.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote

from skill.config import DEFAULT_AUDIO_DIR, Config
from skill.playback.catalog import VERSION_CHARS, VERSION_PARAM, ServedFile, file_sha256

log = logging.getLogger(__name__)

DEFAULT_ART_DIR = DEFAULT_AUDIO_DIR / "art"
ART_ROUTE = "/art"
COVER_ART = "letdown-art.png"
BACKGROUND_IMAGE = "letdown-background.png"


class Artwork:
    """The PNGs of the art folder, hashed once at start-up."""

    def __init__(self, files: Mapping[str, ServedFile], public_url: str) -> None:
        self._files = MappingProxyType(dict(files))
        self._public_url = public_url.rstrip("/")

    @classmethod
    def load(cls, config: Config, art_dir: Path = DEFAULT_ART_DIR) -> Artwork:
        files = {}
        if art_dir.is_dir():
            for path in sorted(art_dir.glob("*.png")):
                files[path.name] = ServedFile(path=path, sha256=file_sha256(path))
        for name in (COVER_ART, BACKGROUND_IMAGE):
            if name not in files:
                log.warning("no %s in %s: Echo screens show the player without it", name, art_dir)
        return cls(files, config.public_url)

    def served_file(self, file_name: str) -> ServedFile | None:
        return self._files.get(file_name)

    def url(self, file_name: str) -> str | None:
        served = self._files.get(file_name)
        if served is None:
            return None
        return f"{self._public_url}{ART_ROUTE}/{quote(file_name)}?{VERSION_PARAM}={served.sha256[:VERSION_CHARS]}"

    @property
    def cover_url(self) -> str | None:
        return self.url(COVER_ART)

    @property
    def background_url(self) -> str | None:
        return self.url(BACKGROUND_IMAGE)
