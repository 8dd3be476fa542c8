"""What handlers need, loaded once per app and handed to every request handler."""

from __future__ import annotations

from dataclasses import dataclass

from skill.config import Config
from skill.interaction_model import ModelCatalog
from skill.playback.artwork import Artwork
from skill.playback.catalog import TrackCatalog
from skill.speech.content import ContentLibrary
from skill.speech.screens import ScreenLibrary
from skill.understanding.catalog import ResolverCatalog


@dataclass(frozen=True)
class SkillDeps:
    config: Config
    content: ContentLibrary
    models: ModelCatalog
    tracks: TrackCatalog
    resolvers: ResolverCatalog
    artwork: Artwork
    screens: ScreenLibrary

    @classmethod
    def load(cls, config: Config) -> SkillDeps:
        """Content, interaction models, their resolvers and the track catalog, each built once."""
        models = ModelCatalog.load(config.model_dir)
        tracks = TrackCatalog.load(config, models)
        content = ContentLibrary.load()
        return cls(
            config=config,
            content=content,
            models=models,
            tracks=tracks,
            resolvers=ResolverCatalog.load(config.model_dir, models, content),
            artwork=Artwork.load(config),
            screens=ScreenLibrary.load(),
        )
