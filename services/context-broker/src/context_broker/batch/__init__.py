"""Batch entity operations (ETSI GS CIM 009 V1.8.1, clauses 5.6.7-5.6.10 and 5.6.20)."""
