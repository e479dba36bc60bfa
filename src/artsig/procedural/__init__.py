"""The embedded procedural-art benchmark: seeded paintings with ground truth for every question.

No paintings can be downloaded, so the book's default collection is generated: subjects
(`genre`) composed as scenes, rendered by invented artists in eight styles defined by
mark-making, dated within each style's period, with motif families (visual links) that reuse
one composition across artists, styles and dates.

    from artsig.procedural import generate_benchmark
    metadata, links = generate_benchmark("data/procedural", count=2000, size=256, seed=0)
"""

from artsig.procedural.artists import ARTIST_NAMES, ARTISTS, STYLE_PERIODS, Artist, artists_of, get_artist
from artsig.procedural.generate import (
    GENERATOR_VERSION,
    GENRE_WEIGHTS,
    STYLE_WEIGHTS,
    generate_benchmark,
    plan_works,
    read_benchmark,
)
from artsig.procedural.motifs import TRANSFORMS
from artsig.procedural.palettes import PALETTE_NAMES, PALETTES
from artsig.procedural.render import WorkSpec, render_spec, render_work, specimen_grid
from artsig.procedural.scene import View
from artsig.procedural.styles import STYLES
from artsig.procedural.subjects import SUBJECTS

__all__ = [
    "ARTISTS", "ARTIST_NAMES", "Artist", "GENERATOR_VERSION", "GENRE_WEIGHTS", "PALETTES", "PALETTE_NAMES",
    "STYLES", "STYLE_PERIODS", "STYLE_WEIGHTS", "SUBJECTS", "TRANSFORMS", "View", "WorkSpec", "artists_of",
    "generate_benchmark", "get_artist", "plan_works", "read_benchmark", "render_spec", "render_work", "specimen_grid",
]
