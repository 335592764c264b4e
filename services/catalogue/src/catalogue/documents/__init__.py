"""The whole catalogue as one DCAT-AP RDF document, paged with Hydra."""
