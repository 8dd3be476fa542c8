"""The audio pipeline: catalog → spoken cues (piper or gTTS) → synthesized bed → mix → −14 LUFS → MP3.

Entry points: `letdown audio build` (skill.audio_build.cli) and `skill.audio_build.build.build()`.
"""
