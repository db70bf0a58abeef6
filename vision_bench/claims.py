"""The paper's claims, one numbering for the analysis and the search, judged on a run's numbers.

Benmeziane et al. (2023) claim (docs/data.md):

1. skips raise a layer's firing rate, addition-type (ASC) more than densenet-like
   concatenation (DSC) (1a, 1b); ASC is more accurate than DSC (1c); and skips shrink the
   ANN-to-SNN accuracy drop (1d);
2. DSC is the more energy-efficient (2: NeuroBench operation counts; 2b: summed spikes counted
   as accumulates, so the verdict is no artefact of one count);
3. searching the skips adapts an ANN-derived topology to the SNN with an accuracy gain (about +8%);
4. Bayesian optimisation finds better topologies than random search, in fewer trials.

:func:`judge_claims` judges claims 1 and 2 on an analysis run, :func:`judge_search` claims 3 and 4
on a search. Accuracy differences are compared with their test-set sampling error, so a verdict
that noise could flip says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from snn_core.search import STARTUP_TRIALS
from vision_bench.analysis_results import VariantResult
from vision_bench.verdicts import Claim


def accuracy_se(*accuracies: float, n: int) -> float:
    """Standard error of a sum or difference of accuracies, each binomial over ``n`` samples."""
    return math.sqrt(sum(p * (1 - p) / n for p in accuracies))


def noise_note(difference: float, se: float, n: int, split: str = "test") -> str:
    """``"inconclusive: ..."`` when ``difference`` is within 2 standard errors, else ``""``."""
    if abs(difference) < 2 * se:
        return f"inconclusive: within 2 standard errors ({2 * se:.3f}) of {split}-set sampling ({n} recordings)"
    return ""


def judge_claims(variants: Mapping[str, VariantResult], n_test: int) -> tuple[Claim, ...]:
    """Claims 1 and 2 on an analysis run.

    Args:
        variants: the measured variants by name (``none``, ``dsc``, ``asc``, ...).
        n_test: test-set size, for the sampling error of accuracy differences.

    Returns:
        1a, 1b, 1c, 1d, 2 and 2b; a claim whose variants the run lacks is not tested.
    """
    snn = {v: r.snn for v, r in variants.items()}

    def claim(cid: str, text: str, needs: tuple[str, ...], judge: Callable[[], tuple[bool, dict, str]]) -> Claim:
        if not set(needs) <= set(variants):
            return Claim(cid, text, None, note=f"not tested: needs variants {', '.join(needs)}")
        held, numbers, note = judge()
        return Claim(cid, text, bool(held), numbers, note)

    def rates_raised():
        rate = {v: snn[v].activity.mean_firing_rate for v in ("none", "dsc", "asc")}
        return rate["dsc"] > rate["none"] and rate["asc"] > rate["none"], {f"firing_rate_{v}": r for v, r in rate.items()}, ""

    def asc_raises_more():
        asc, dsc = snn["asc"].activity.mean_firing_rate, snn["dsc"].activity.mean_firing_rate
        return asc > dsc, {"firing_rate_asc": asc, "firing_rate_dsc": dsc}, ""

    def asc_more_accurate():
        asc, dsc = snn["asc"].accuracy, snn["dsc"].accuracy
        return (
            asc > dsc,
            {"snn_accuracy_asc": asc, "snn_accuracy_dsc": dsc},
            noise_note(asc - dsc, accuracy_se(asc, dsc, n=n_test), n_test),
        )

    def drop_shrinks():
        drops = {v: r.drop for v, r in variants.items()}
        skip_variants = [v for v in variants if v != "none"]
        worst = max(skip_variants, key=lambda v: drops[v])
        accuracies = [m.accuracy for v in (worst, "none") for m in (variants[v].ann, variants[v].snn)]
        note = noise_note(drops[worst] - drops["none"], accuracy_se(*accuracies, n=n_test), n_test)
        return all(drops[v] < drops["none"] for v in skip_variants), {f"drop_{v}": d for v, d in drops.items()}, note

    def dsc_cheaper(spike_count: bool):
        key = "energy_pj_per_step_spike_count" if spike_count else "energy_pj_per_step"

        def judge():
            dsc, asc = (snn[v].activity.energy_pj_per_step(spike_count) for v in ("dsc", "asc"))
            return dsc < asc, {f"{key}_dsc": dsc, f"{key}_asc": asc}, ""

        return judge

    return (
        claim(
            "1a",
            "both skip types raise the firing rate (SNN mean over the skip blocks' layers)",
            ("none", "dsc", "asc"),
            rates_raised,
        ),
        claim("1b", "ASC raises the firing rate more than DSC", ("dsc", "asc"), asc_raises_more),
        claim("1c", "ASC is more accurate than DSC (SNN test accuracy)", ("dsc", "asc"), asc_more_accurate),
        claim(
            "1d",
            "skip connections shrink the ANN-to-SNN accuracy drop (every skip variant vs none)",
            ("none", "dsc", "asc"),
            drop_shrinks,
        ),
        claim(
            "2",
            "DSC is more energy-efficient than ASC (NeuroBench operation counts)",
            ("dsc", "asc"),
            dsc_cheaper(spike_count=False),
        ),
        claim(
            "2b",
            "DSC is more energy-efficient than ASC (each input spike counted as accumulates)",
            ("dsc", "asc"),
            dsc_cheaper(spike_count=True),
        ),
    )


def judge_search(result: dict) -> tuple[Claim, ...]:
    """Claims 3 and 4 on a search result (:func:`vision_bench.search.run_vision_search`)."""
    start, best, data = result["start"], result["best"], result["data"]
    gain = best["test_accuracy"] - start["test_accuracy"]
    se = accuracy_se(best["test_accuracy"], start["test_accuracy"], n=data["test"])
    claims = (
        Claim(
            "3",
            "searching the skips adapts the ANN-derived topology to the SNN with an accuracy gain (paper: about +8%)",
            gain > 0,
            {"test_accuracy_start": start["test_accuracy"], "test_accuracy_searched": best["test_accuracy"], "gain": gain},
            noise_note(gain, se, data["test"]) or "one training seed per topology",
        ),
    )
    curves = {s: r["best_so_far"] for s, r in result["searches"].items()}
    text = "Bayesian optimisation (TPE, GP) reaches a higher best, or random search's best in fewer trials"
    bo = [s for s in ("tpe", "gp") if s in curves]
    if "random" not in curves or not bo or not all(curves.values()):
        return (*claims, Claim("4", text, None, note="not tested: needs --sampler all"))
    target = curves["random"][-1]
    reach = {s: next((k + 1 for k, v in enumerate(c) if v >= target - 1e-12), None) for s, c in curves.items()}
    held = any(curves[s][-1] > target or (reach[s] or math.inf) < reach["random"] for s in bo)
    numbers = {**{f"best_{s}": c[-1] for s, c in curves.items()}, **{f"trials_to_random_best_{s}": reach[s] for s in curves}}
    lead, n_val = max(curves[s][-1] for s in bo) - target, data["validation"]
    note = noise_note(lead, accuracy_se(target, target, n=n_val), n_val, "validation") or f"best BO minus best random {lead:+.3f}"
    note += (
        f"; one search per sampler, whose first {min(STARTUP_TRIALS, result['trials'])} trials (the ANN-derived start, "
        "then random draws of the same seed) are the same for all samplers; stability needs repeated searches"
    )
    return (*claims, Claim("4", text, held, numbers, note))
