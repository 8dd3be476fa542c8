"""Let-Down Helper: an Alexa skill that helps a parent's milk let down, hands-free."""

__version__ = "0.1.0"
