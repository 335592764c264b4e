from __future__ import annotations

import pytest

from marketplace.tmf.fields import select_fields

ORG = {"id": "1", "href": "/o/1", "@type": "Organization", "name": "N", "status": "validated"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (None, ORG),
        ("", ORG),
        ("name", {"id": "1", "href": "/o/1", "@type": "Organization", "name": "N"}),
        ("name, status", {**ORG}),
        ("none", {"id": "1", "href": "/o/1", "@type": "Organization"}),
        ("unknown", {"id": "1", "href": "/o/1", "@type": "Organization"}),
    ],
)
def test_select_fields(fields: str | None, expected: dict[str, str]) -> None:
    assert select_fields(ORG, fields) == expected
