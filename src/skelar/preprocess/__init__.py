"""Dataset-specific preprocessing: raw recordings -> canonical ``(C, T, V, M)`` samples and protocols."""
