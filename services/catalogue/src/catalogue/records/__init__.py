"""Catalogue records of every kind: the JSON API, their RDF, ODRL policies on datasets."""
