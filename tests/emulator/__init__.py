"""Tests of the portal emulator itself.

A package, so that its conftest does not shadow `tests/conftest.py` as the module `conftest`.
"""
