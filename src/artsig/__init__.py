"""artsig: visual signatures of artworks — catalogs, features, classification, clustering, retrieval."""

from artsig.determinism import pin_environment as _pin_environment

# before numpy, torch or TensorFlow load: fix their kernel paths and thread counts (see artsig.determinism)
_pin_environment()

__version__ = "0.1.0"
