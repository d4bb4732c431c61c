"""Working with the reference implementations: benchmark skelar against them, import their checkpoints.

These tools know particular models (how to load the authors' SGN or impSGN code, how their checkpoints
are laid out), so they sit above the engine, which knows none, and below the CLI, which delegates to them.
"""
