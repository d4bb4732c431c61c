"""skelar: skeleton-based human action recognition (Python API for predictions: :mod:`skelar.api`)."""

__version__ = "0.1.0"
