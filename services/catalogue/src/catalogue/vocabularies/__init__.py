"""The controlled vocabularies the catalogue accepts, for clients to read."""
