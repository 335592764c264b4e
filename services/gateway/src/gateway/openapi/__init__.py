"""The stack's OpenAPI documents, merged into one."""
