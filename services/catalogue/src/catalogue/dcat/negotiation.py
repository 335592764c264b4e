"""HTTP content negotiation on ``Accept`` (RFC 9110, 12.5.1): quality values and ranges."""

from __future__ import annotations


def _ranges(accept: str) -> list[tuple[str, float, int]]:
    out: list[tuple[str, float, int]] = []
    for index, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        out.append((media, q, index))
    return out


def negotiate(accept: str | None, offers: list[str]) -> str | None:
    """The offer the client prefers (server order breaks ties); None if none is acceptable.

    No ``Accept`` header means anything: the first offer.
    """
    if not accept or not accept.strip():
        return offers[0]
    ranges = _ranges(accept)
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for position, offer in enumerate(offers):
        main = offer.split("/")[0]
        for media, q, _ in ranges:
            specificity = (
                2 if media == offer else 1 if media == f"{main}/*" else 0 if media == "*/*" else -1
            )
            if specificity < 0 or q <= 0:
                continue
            key = (q, specificity, -position)
            if best is None or key > best:
                best, chosen = key, offer
    return chosen
