"""mims-check: conformance checks of a deployment against the Living-in.EU MIMs."""

__version__ = "0.1.0"
