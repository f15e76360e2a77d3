"""assessor: compliance assessment of Linux container deployments."""

__version__ = "0.1.0"
