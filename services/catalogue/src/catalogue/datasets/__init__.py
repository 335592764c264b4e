"""Datasets (dcat:Dataset)."""
