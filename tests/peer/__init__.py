"""Verdict comparison with docker-bench-security (a peer tool) on the same host and engine."""
