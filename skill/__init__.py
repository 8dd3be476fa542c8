"""Let-Down Helper: an Alexa skill that helps a parent's milk let down, hands-free."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("letdown-helper")  # defined once, in pyproject.toml
except PackageNotFoundError:  # a checkout that was never installed (`pip install -e .` makes it known)
    __version__ = "0+unknown"
