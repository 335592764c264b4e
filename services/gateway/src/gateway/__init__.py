"""MIM6 gateway: the one entry point of the stack."""

__version__ = "0.1.0"
