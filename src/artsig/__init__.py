"""artsig: visual signatures of artworks — catalogs, features, classification, clustering, retrieval."""

__version__ = "0.1.0"
