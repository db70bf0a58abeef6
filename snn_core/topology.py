"""Skip topologies: the object the paper studies and the search optimises.

A network is a sequence of blocks; a block of L layers carries an L x L strictly upper-triangular
adjacency matrix with entries 0 (no skip), 1 (densenet-like concatenation, DSC) or 2
(addition-type, ASC), following Benmeziane et al. (2023), Sec. III.

Wiring convention. Layers of a block are numbered 0..L-1 and layer k normally reads the output of
layer k-1 (layer 0 reads the block's input). Entry (i, j), i < j, carries *what layer i reads*
forward to layer j as an extra input: the block input when i = 0, else the output of layer i-1.
It thus skips layers i..j-1. With this convention every one of the L(L-1)/2 entries is a real
skip: the first superdiagonal (j = i + 1) is the classic one-layer shortcut of a ResNet, whereas
reading (i, j) as "output of layer i into layer j" would make that diagonal a duplicate of the
chain.

Text form: one ``L-digits`` group per block, the digits being the upper triangle read row by row,
groups joined by ``_``; e.g. ``"3-201_2-1"`` for a 3-layer block with an ASC (0,1) and a DSC (1,2)
followed by a 2-layer block with a DSC (0,1). It uses only characters that are safe in file
names, shell arguments and Optuna parameter values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NONE, DSC, ASC = 0, 1, 2
SKIP_TYPES = {NONE: "none", DSC: "dsc", ASC: "asc"}


def _as_matrix(block: Sequence[Sequence[int]] | np.ndarray, index: int) -> np.ndarray:
    """Validate one block's adjacency and return it as an int8 array (raises ValueError)."""
    try:
        matrix = np.asarray(block)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"block {index}: adjacency is not a square matrix ({err})") from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 1:
        raise ValueError(f"block {index}: adjacency must be a non-empty square L x L matrix, got shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.integer):
        if not np.all(np.equal(np.mod(matrix, 1), 0)):
            raise ValueError(f"block {index}: adjacency entries must be integers 0, 1 or 2")
    bad = ~np.isin(matrix, (NONE, DSC, ASC))
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise ValueError(f"block {index}: entry ({i}, {j}) is {matrix[i, j]}, outside 0..2 (0 none, 1 DSC, 2 ASC)")
    lower = np.tril(matrix)
    if lower.any():
        i, j = map(int, np.argwhere(lower)[0])
        raise ValueError(f"block {index}: not strictly upper-triangular, entry ({i}, {j}) is {matrix[i, j]}")
    return matrix.astype(np.int8)


@dataclass(frozen=True)
class SkipTopology:
    """The skip connections of a whole network: one adjacency matrix per block.

    Args:
        blocks: one L x L strictly upper-triangular matrix per block, entries in {0, 1, 2}.

    Raises:
        ValueError: naming the block and entry at fault.
    """

    blocks: tuple[tuple[tuple[int, ...], ...], ...]

    def __init__(self, blocks: Sequence[Sequence[Sequence[int]] | np.ndarray]) -> None:
        if len(blocks) == 0:
            raise ValueError("a topology needs at least one block")
        frozen = tuple(tuple(map(tuple, _as_matrix(b, k).tolist())) for k, b in enumerate(blocks))
        object.__setattr__(self, "blocks", frozen)

    @classmethod
    def empty(cls, layers_per_block: Sequence[int]) -> SkipTopology:
        """A plain feed-forward topology (no skips) with the given block sizes."""
        return cls([np.zeros((n, n), dtype=int) for n in layers_per_block])

    @classmethod
    def uniform(cls, layers_per_block: Sequence[int], skip_type: int, span: int | None = None) -> SkipTopology:
        """Every entry of type ``skip_type``, or only those skipping exactly ``span`` layers.

        ``uniform([4], DSC)`` is a densenet-like block; ``uniform([4], ASC, span=2)`` puts a
        residual shortcut over every pair of layers, as in ResNet's basic block.
        """
        matrices = []
        for n in layers_per_block:
            i, j = np.triu_indices(n, k=1)
            keep = np.ones_like(i, dtype=bool) if span is None else (j - i == span)
            m = np.zeros((n, n), dtype=int)
            m[i[keep], j[keep]] = skip_type
            matrices.append(m)
        return cls(matrices)

    @classmethod
    def from_string(cls, text: str) -> SkipTopology:
        """Parse the compact text form (see the module docstring)."""
        if not text:
            raise ValueError("empty topology string; expected e.g. '3-201_2-1'")
        matrices = []
        for k, group in enumerate(text.split("_")):
            size, sep, digits = group.partition("-")
            if not sep or not size.isdigit() or int(size) < 1:
                raise ValueError(f"block {k}: {group!r} is not of the form 'L-digits' with L >= 1")
            n = int(size)
            want = n * (n - 1) // 2
            if len(digits) != want or (digits and not digits.isdigit()):
                raise ValueError(f"block {k}: {n} layers need {want} digits (0/1/2), got {digits!r}")
            m = np.zeros((n, n), dtype=int)
            m[np.triu_indices(n, k=1)] = [int(c) for c in digits]
            matrices.append(m)
        return cls(matrices)

    def __str__(self) -> str:
        groups = []
        for m in self.matrices():
            n = m.shape[0]
            groups.append(f"{n}-" + "".join(str(int(v)) for v in m[np.triu_indices(n, k=1)]))
        return "_".join(groups)

    def matrices(self) -> list[np.ndarray]:
        return [np.array(b, dtype=np.int8) for b in self.blocks]

    @property
    def layers_per_block(self) -> tuple[int, ...]:
        return tuple(len(b) for b in self.blocks)

    def count(self, skip_type: int | None = None) -> int:
        """Number of skip connections, of one type or of any type."""
        return sum(int(((m == skip_type) if skip_type is not None else (m != NONE)).sum()) for m in self.matrices())

    def sources(self, block: int, layer: int) -> list[tuple[int, int]]:
        """(source index, skip type) pairs feeding ``layer`` of ``block``, sources ascending."""
        column = self.blocks[block]
        return [(i, column[i][layer]) for i in range(layer) if column[i][layer] != NONE]


def search_space_size(layers_per_block: Sequence[int]) -> int:
    """How many topologies exist for these block sizes: 3 ** (sum of L(L-1)/2)."""
    return 3 ** sum(n * (n - 1) // 2 for n in layers_per_block)


def sample_topology(layers_per_block: Sequence[int], seed: int, p_skip: float = 0.5) -> SkipTopology:
    """Draw a topology: each entry is a skip with probability ``p_skip``, DSC or ASC evenly."""
    rng = np.random.default_rng(seed)
    matrices = []
    for n in layers_per_block:
        m = np.zeros((n, n), dtype=int)
        i, j = np.triu_indices(n, k=1)
        has_skip = rng.random(len(i)) < p_skip
        m[i, j] = np.where(has_skip, rng.integers(DSC, ASC + 1, len(i)), NONE)
        matrices.append(m)
    return SkipTopology(matrices)
