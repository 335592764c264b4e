"""Harvesting records in: from the context broker, a DCAT-AP RDF endpoint or a CKAN API."""
