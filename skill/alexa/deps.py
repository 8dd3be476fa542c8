"""What handlers need, loaded once per app and handed to every request handler."""

from __future__ import annotations

from dataclasses import dataclass

from skill.config import Config
from skill.interaction_model import ModelCatalog
from skill.playback.catalog import TrackCatalog
from skill.speech.content import ContentLibrary


@dataclass(frozen=True)
class SkillDeps:
    config: Config
    content: ContentLibrary
    models: ModelCatalog
    tracks: TrackCatalog

    @classmethod
    def load(cls, config: Config) -> SkillDeps:
        """Content, interaction models and the track catalog, each read from disk once."""
        models = ModelCatalog.load(config.model_dir)
        tracks = TrackCatalog.load(config, models)
        return cls(config=config, content=ContentLibrary.load(), models=models, tracks=tracks)
