"""What the skill says: per-locale content files and how a message becomes a response."""
