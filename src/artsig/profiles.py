"""How hard a run works: ``quick`` keeps the procedural benchmark inside its time budget,
``full`` gives a real collection every image, each backbone's native input size and enough
epochs (with early stopping on validation). ``auto`` picks ``quick`` for the benchmark and
``full`` for any other collection, so a user's paintings are never judged by a time-budget toy.
"""

from __future__ import annotations

PROFILES = ("auto", "quick", "full")


def resolve(profile: str, dataset: str) -> str:
    """``quick`` or ``full`` for ``profile`` on ``dataset`` (``auto``: quick only for the benchmark)."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r}: expected one of {', '.join(PROFILES)}")
    if profile != "auto":
        return profile
    return "quick" if str(dataset).partition(":")[0] == "synthetic" else "full"


def is_benchmark(dataset: str) -> bool:
    """Whether ``dataset`` is the procedural benchmark (prose about it is shown only then)."""
    return str(dataset).partition(":")[0] == "synthetic"
