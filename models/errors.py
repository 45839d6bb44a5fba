"""The exception hierarchy of siting.

Every error a user can cause derives from :class:`SitingError`; the CLI turns each into one
clear line and an exit code (1 bad input, 3 infeasible or no solution). Messages name the
object, show the offending value and say how to fix it.
"""

from __future__ import annotations


class SitingError(Exception):
    """Base class of every error siting raises on purpose."""

    exit_code = 1


class ScenarioError(SitingError):
    """A scenario file (or command-line model specification) is wrong."""


class DataError(SitingError):
    """Input data (a layer, a CSV, a distance matrix, a benchmark file) is wrong."""


class InfeasibleError(SitingError):
    """The model has no feasible plan."""

    exit_code = 3


class NoSolutionError(SitingError):
    """The solver stopped (limit or failure) without any feasible plan."""

    exit_code = 3


class BackendUnavailableError(SitingError):
    """A solver backend was asked for that is unknown or not installed."""
