"""The track catalog: what can be played, where it is served from, AudioPlayer tokens."""
