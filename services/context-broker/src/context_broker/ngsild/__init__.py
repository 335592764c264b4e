"""Pure NGSI-LD logic (ETSI GS CIM 009 V1.8.1): no web or database framework here."""
