"""Shared SNN topology core: skip topologies, LIF neurons, networks, metrics, search."""
