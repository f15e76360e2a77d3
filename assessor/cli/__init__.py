"""Command-line entry point. The only place that exits; errors become one line, no traceback."""

from __future__ import annotations

import os
import sys

from assessor.errors import AssessorError


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Usage errors exit 2 (Typer); AssessorError exits with its own code."""
    from assessor.cli.app import app

    try:
        app(args=argv, prog_name="assessor")
    except AssessorError as e:
        print(f"assessor: error: {e.diagnostics()}", file=sys.stderr)
        if os.environ.get("ASSESSOR_DEBUG"):
            raise
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("assessor: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
