"""Thin ask-sdk request handlers, one module per area; each exposes `request_handlers(deps)`."""
