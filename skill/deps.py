"""What handlers need, built once per app and handed to each area's `request_handlers(deps)`."""

from __future__ import annotations

from dataclasses import dataclass

from skill.config import Config
from skill.content import ContentLibrary
from skill.tracks import TrackCatalog


@dataclass(frozen=True)
class SkillDeps:
    config: Config
    content: ContentLibrary
    tracks: TrackCatalog
