"""The catalogue as the marketplace sees it: datasets and data services over HTTP."""
