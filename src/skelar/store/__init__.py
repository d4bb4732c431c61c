"""The on-disk store, below formats and preprocessing: prepared datasets, splits, checkpoint files, atomic writes.

Formats and preprocessing write into it, data and the engine read from it; it knows no model.
"""
