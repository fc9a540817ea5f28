"""The support sites one hub login serves (SPEC rule 3)."""

from __future__ import annotations

from hub.errors import Invalid

SITES: dict[str, str] = {
    "hub": "School Support Hub",
    "primary": "Cambridge Primary support site",
    "lower-secondary": "Cambridge Lower Secondary support site",
    "test-maker": "Test Maker",
    "resource-plus": "Resource Plus",
    "results-analysis": "Results Analysis",
    "forums": "Online discussion forums",
}
ALWAYS_ON = "hub"
# Progression Test data lives on these two sites only (rule 6).
DATA_SITES = ("primary", "lower-secondary")
CHOOSABLE = tuple(code for code in SITES if code != ALWAYS_ON)


def site_name(code: str) -> str:
    return SITES.get(code, code)


def normalise_sites(codes: object) -> list[str]:
    """The hub always on, then the chosen sites in the hub's own order.

    Accepts site codes or full names, in any case; refuses unknown ones by
    name so that a typo in a CSV row is easy to find.
    """
    if isinstance(codes, str):
        codes = [c for c in codes.replace(";", ",").replace("|", ",").split(",")]
    chosen: set[str] = {ALWAYS_ON}
    unknown: list[str] = []
    by_name = {name.casefold(): code for code, name in SITES.items()}
    for raw in codes or ():  # type: ignore[union-attr]
        text = str(raw).strip()
        if not text:
            continue
        key = text.casefold().replace("_", "-").replace(" ", "-")
        code = key if key in SITES else by_name.get(text.casefold())
        if code is None:
            unknown.append(text)
        else:
            chosen.add(code)
    if unknown:
        known = ", ".join(CHOOSABLE)
        named = ", ".join(unknown)
        if len(named) > 60:  # quote a typo back, not a pasted essay
            named = named[:59] + "…"
        raise Invalid(f"Unknown site {named!r}: choose from {known}.")
    return [code for code in SITES if code in chosen]
