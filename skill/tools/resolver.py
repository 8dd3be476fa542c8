"""The tools' resolver is the skill's own (skill.understanding.resolver): what the tools show is what a device does."""

from skill.understanding.durations import iso_duration
from skill.understanding.resolver import (
    BUILT_IN_PHRASES,
    Resolution,
    Resolver,
    spoken_duration_iso,
)

__all__ = ["BUILT_IN_PHRASES", "Resolution", "Resolver", "iso_duration", "spoken_duration_iso"]
