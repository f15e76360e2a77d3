"""Errors the CLI knows how to report: one line, a hint, and an exit code from the contract."""

from __future__ import annotations

# Exit codes of the command-line contract (DESIGN section 7).
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class AssessorError(Exception):
    """Base of every error assessor reports to a user without a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The one-line message, plus a hint line when there is one."""
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"


class ControlDefinitionError(AssessorError):
    """A rule or framework file is malformed; the message names file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, problem: str) -> None:
        where = path if line is None else f"{path}:{line}"
        what = f"{field}: {problem}" if field else problem
        super().__init__(f"{where}: {what}")
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem


class TargetError(AssessorError):
    """A target string cannot be parsed."""


class CollectorError(AssessorError):
    """A collector failed as a whole."""


class TargetUnreachableError(CollectorError):
    """A target could not be reached (socket missing, connection refused, root not found)."""

    exit_code = EXIT_UNREACHABLE


class EvaluationError(AssessorError):
    """A rule could not be evaluated on a resource (becomes status `error`, never a crash)."""


class StoreError(AssessorError):
    """The database cannot be opened, is locked, or has a schema this version cannot use."""


class NotFoundError(AssessorError):
    """A requested assessment, rule or framework does not exist."""


class ImageError(CollectorError):
    """An image is malformed, hostile or over a limit: that image is not analysed."""
