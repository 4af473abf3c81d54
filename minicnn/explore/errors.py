"""The explorer's two kinds of refusal, each a sentence for the person who sent the request."""

from __future__ import annotations

__all__ = ["RequestError", "UnavailableError"]


class RequestError(ValueError):
    """A request the explorer cannot answer as asked: a malformed image, an unknown layer, an
    index outside the layer's output. The server answers 400 with the message."""


class UnavailableError(RuntimeError):
    """Something the request needs is not there: no MNIST for test images or live training,
    a network that cannot be saved as a run. The server answers 409 with the message."""
