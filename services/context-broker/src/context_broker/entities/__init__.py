"""Context information provision and consumption: entities."""
