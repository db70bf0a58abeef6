"""A claim of the paper and its verdict on one run (:class:`Claim`), and the table of verdicts.

The analysis (claims 1 and 2) and the search (claims 3 and 4) both report claims
(:mod:`vision_bench.claims` judges them); their result records hold these, so the type lives
apart from the judging.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

_VERDICT = {True: "**held**", False: "**did not hold**", None: "not tested"}


@dataclass(frozen=True)
class Claim:
    """One claim's verdict on one run.

    Args:
        id: the paper's number, with a letter for each part (``"1c"``).
        claim: what is claimed, in words.
        held: whether it held; None when the run lacks what the claim needs.
        numbers: the measured values the verdict rests on.
        note: why the verdict may not be trusted (sampling noise), or why it was not tested.
    """

    id: str
    claim: str
    held: bool | None
    numbers: dict[str, float | int | None] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def verdict(claim: Claim) -> str:
    """The verdict in words: a difference within sampling noise is inconclusive whichever way it
    fell, never "held" beside a note that says it cannot be trusted."""
    if claim.held is not None and claim.note.startswith("inconclusive"):
        return f"inconclusive ({'held' if claim.held else 'did not hold'} in this run, within noise)"
    return _VERDICT[claim.held]


def claims_table(claims: Iterable[Claim]) -> str:
    """One Markdown row per claim: held or not, with its numbers."""
    lines = ["| claim | verdict | numbers | note |", "|---|---|---|---|"]
    for c in claims:
        numbers = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in c.numbers.items())
        lines.append(f"| {c.id}: {c.claim} | {verdict(c)} | {numbers} | {c.note} |")
    return "\n".join(lines)
