"""NGSI-LD context broker (ETSI GS CIM 009 V1.8.1): MIM1 context information, MIM2 models."""

__version__ = "0.1.0"
