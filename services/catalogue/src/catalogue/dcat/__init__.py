"""DCAT-AP 3.0.1: the record model, controlled vocabularies, RDF in and out, SHACL, CKAN.

Pure logic only: no web framework and no database (an architecture test checks it).
"""
