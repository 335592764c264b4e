"""DCAT-AP 3 catalogue of datasets, data services, data models and digital tools."""

__version__ = "0.1.0"
