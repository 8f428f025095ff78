"""Atheris fuzz targets; `tests/test_hostile_input.py` runs each one-input function on its seeds."""
