"""The CKAN-compatible action API (``/api/3/action/...``)."""
