"""Test session set-up shared by the unit tests and nbval."""

# Importing artsig pins the math kernels' instruction paths and thread counts in this process and
# exports them to the notebook kernels nbval starts (see artsig.determinism).
import artsig  # noqa: F401
