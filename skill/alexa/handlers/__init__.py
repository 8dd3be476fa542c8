"""Thin ask-sdk request handlers, one module per area; skill_builder lists them in dispatch order."""
