"""Optuna is an optional dependency (the ``tune`` extra): import it with a sentence if missing."""

from __future__ import annotations

__all__ = ["MissingDependencyError", "import_optuna", "require_psycopg2"]

INSTALL_HINT = "pip install 'minicnn-numpy[tune]'"


class MissingDependencyError(ImportError):
    """A package that tuning needs is not installed; the message says how to install it."""


def import_optuna():
    """The ``optuna`` module, or a :class:`MissingDependencyError` that says how to get it."""
    try:
        import optuna
    except ModuleNotFoundError as error:
        if error.name != "optuna":
            raise
        raise MissingDependencyError(
            f"minicnn tune needs Optuna, which is not installed: {INSTALL_HINT} "
            "(or pip install optuna)") from None
    return optuna


def require_psycopg2() -> None:
    """Fail with a sentence if the PostgreSQL driver SQLAlchemy uses by default is missing."""
    try:
        import psycopg2  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "psycopg2":
            raise
        raise MissingDependencyError(
            f"a postgresql:// storage needs the psycopg2 driver, which is not installed: "
            f"{INSTALL_HINT} (or pip install psycopg2-binary)") from None
