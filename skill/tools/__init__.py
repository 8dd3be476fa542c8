"""Trying and shipping the skill without an Echo: resolver, say, chat, simulator, model check, packaging."""
