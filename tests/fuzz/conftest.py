"""The fuzz targets here are programs run by ``make fuzz`` (atheris), not pytest tests."""

collect_ignore_glob = ["fuzz_*.py", "seeds.py", "_harness.py"]
