"""Errors the library raises; the CLI turns them into messages and exit codes.

Every message says where (file and path), what is wrong, and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


class PortfolioError(Exception):
    """Base class for every error this package raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where it is and what to do."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ContentError(PortfolioError):
    """Content or profile files are invalid; holds every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} in content:\n{lines}")


class TemplateError(PortfolioError):
    """A template or a variable in prose could not be rendered safely."""


class BuildError(PortfolioError):
    """A document could not be written."""


class ReadError(PortfolioError):
    """A returned copy cannot be read; the message names the file and the reason."""

    def __init__(self, file: str, reason: str):
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


class FillError(PortfolioError):
    """Values cannot be written into the pack."""


class IngestError(PortfolioError):
    """A path or register given to ingest cannot be used."""



class RosterError(ContentError):
    """A roster (or the content it is issued from) is invalid; nothing was issued."""


class OptionError(PortfolioError):
    """An argument of a use case (``generator.api``) has a value it cannot use.

    ``option`` is the argument's name (e.g. ``include``), so a front end can
    point at its own control for it.
    """

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(message)


class RecordsError(PortfolioError):
    """What was asked of the records store does not match what is in it."""


class IssueError(PortfolioError):
    """A cohort cannot be issued as asked; nothing was written."""


class StoreError(PortfolioError):
    """The records store cannot be opened or written; the message says which file and why.

    Errors of the database engine inside a transaction are raised as this (the
    engine's exception is its ``__cause__``), so callers need not know the engine.
    """
