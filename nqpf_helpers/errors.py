"""Every exception the package raises on purpose, under one base class.

Catch :class:`NQPFError` to handle any problem the package reports deliberately
(bad input, missing data, an unwritable output, a solver that found no optimum);
anything else that escapes is a bug.  Each class also derives from the built-in
exception a caller would naturally catch (``ValueError`` for bad values,
``OSError`` for files), so code written against those keeps working.

The messages name the problem and the fix.
"""

from __future__ import annotations

__all__ = [
    "UnitSlipWarning",
    "NQPFError",
    "InputError",
    "PanelError",
    "UnknownRegionError",
    "UnknownDataFileError",
    "MapInputError",
    "OutputError",
    "MissingDependencyError",
    "DataUnavailableError",
    "DataIntegrityError",
    "SolverError",
    "UnmappedRegionWarning",
    "NQPFWarning",
]


class NQPFError(Exception):
    """Base class of every error that ``nqpf_helpers`` raises on purpose."""


class InputError(NQPFError, ValueError):
    """An input file, value or option cannot be used."""


class PanelError(InputError):
    """A panel failed validation (missing columns or cells, duplicates, non-positive values...)."""


class UnknownRegionError(InputError):
    """A code or name is not one of mainland China's administrative units."""


class UnknownDataFileError(InputError, KeyError):
    """A name that is not in the download registry (also a ``KeyError``: a failed look-up)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return Exception.__str__(self)


class MapInputError(InputError):
    """The data given to a map function cannot be mapped."""


class OutputError(NQPFError, OSError):
    """An output location cannot be written (exists, not writable, not a folder...)."""


class MissingDependencyError(NQPFError, ImportError):
    """A package that a feature needs is not installed; the message says what to install."""


class DataUnavailableError(NQPFError, FileNotFoundError):
    """A data file is neither in the local data folder nor downloadable."""


class DataIntegrityError(NQPFError, RuntimeError):
    """A data file exists but its content is not what the registry records."""


class SolverError(NQPFError, RuntimeError):
    """An optimisation ended without an optimum; the message names the unit and a fix."""


class NQPFWarning(UserWarning):
    """Base class of the warnings the package issues on purpose."""


class UnmappedRegionWarning(NQPFWarning):
    """Well-formed codes that cnmaps does not know (abolished or merged units)."""


class UnitSlipWarning(NQPFWarning):
    """A value several orders of magnitude away from its unit's and its column's others (a unit slip?)."""
