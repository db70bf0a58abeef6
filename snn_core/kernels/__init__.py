"""Fused multi-step LIF kernels: one pass over time forward, one backward, per backend."""
