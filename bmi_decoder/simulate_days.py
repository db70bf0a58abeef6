"""One simulated monkey over many days: the same array and tuning model, drifting between sessions.

A chronic Utah array does not record the same signals every day. What changes, and how the
simulator models each (per day, as a random walk from day 0, so a gap of d days is d steps):

- **units lost and gained.** A sorted unit disappears with probability ``unit_loss`` per day and
  an empty sorted slot of a live channel picks up a new neuron with probability ``unit_gain``
  (drawn from a second population of the same array). The hash unit, the threshold crossings of
  the channel, stays: Chestek et al. 2011 ("Long-term stability of neural prosthetic control
  signals from silicon cortical arrays in rhesus macaque motor cortex") found that decoders on
  threshold crossings kept their performance while well-isolated units' action potentials
  shrank (2.4% per month on average);
- **channels going dead**, with probability ``channel_death`` per day (all its units at once);
- **baseline and gain drift**: each unit's log rate and log tuning gain take a Gaussian step of
  ``baseline_sd`` and ``gain_sd`` per day. Perge et al. 2013 ("Intra-day signal instabilities
  affect decoding performance in an intracortical neural interface system") found that 84% of
  units changed their firing rate significantly within one session, by 49% of the mean rate on
  average; the single-session simulator already drifts within a session, this adds the drift
  that accumulates between sessions;
- **preferred directions rotate** by a Gaussian step of ``direction_sd`` radians per day, each
  unit its own way;
- **the day's recording length** (``seconds`` times a factor drawn from ``length_factor``), and
  with it the number of reaches.

The default rates are set so that a Wiener filter trained on day 0 keeps about 50 to 70% of its
within-day R2 a week later and less after a month (docs/data.md, "Several days": how it was
measured). Every choice comes from one seed: the monkey from it, each day's session from it and
the day.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from bmi_decoder.simulate import SIMULATOR_VERSION, SimulatedSession, UnitPopulation, draw_population, simulate_session
from snn_core.errors import InputError

# The first simulated day, in the file names (Zenodo's are <monkey>_<YYYYMMDD>_<NN>.mat).
FIRST_DATE = datetime.date(2016, 6, 22)
# Which note of a .mat file holds a simulated day's drift (bmi_decoder.io.mat.read_mat_note).
NOTE = "simulation"
# The most a drifted unit fires on average (the busiest real channel: 51.7 Hz, docs/data.md).
MAX_UNIT_RATE_HZ = 60.0


@dataclass(frozen=True)
class DriftRates:
    """How fast the recordings change from one day to the next (module docstring).

    Attributes:
        unit_loss: chance per day that a sorted unit disappears.
        unit_gain: chance per day that an empty sorted slot of a live channel gains a unit.
        channel_death: chance per day that a live channel goes dead.
        baseline_sd: standard deviation of the daily step of each unit's log rate.
        gain_sd: standard deviation of the daily step of each unit's log tuning gain.
        direction_sd: standard deviation of the daily step of each unit's preferred direction, rad.
        length_factor: range of the factor on the nominal session length, drawn per day.
    """

    unit_loss: float = 0.03
    unit_gain: float = 0.02
    channel_death: float = 0.002
    baseline_sd: float = 0.07
    gain_sd: float = 0.06
    direction_sd: float = 0.2
    length_factor: tuple[float, float] = (0.75, 1.25)


@dataclass(frozen=True, eq=False)
class SimulatedDay:
    """One day's session and the drift it was drawn with.

    Attributes:
        day: days since the first session.
        date: the recording date, in the file name.
        session: the simulated session.
        drift: the drift so far, as recorded in the file (:meth:`note`).
    """

    day: int
    date: datetime.date
    session: SimulatedSession
    drift: dict

    @property
    def name(self) -> str:
        """The file stem, in Zenodo's form: ``sim<seed>_<YYYYMMDD>_01``."""
        return f"sim{self.drift['seed']}_{self.date:%Y%m%d}_01"

    def note(self) -> str:
        """The drift as JSON, stored in the session's .mat file as the ``simulation`` variable."""
        return json.dumps(self.drift, sort_keys=True)


def parse_days(text: str) -> list[int]:
    """``"8"`` -> days 0 to 7; ``"0,1,7,30"`` -> those days (increasing, from 0)."""
    try:
        days = [int(d) for d in text.split(",")] if "," in text else list(range(int(text)))
    except ValueError:
        days = []
    ok = len(days) >= 1 and days[0] == 0 and all(b > a for a, b in zip(days, days[1:])) and days[-1] <= 3650
    if not ok:
        raise InputError(
            "command line", "--days", f"a number of days (1 to 3650) or increasing days from 0 such as 0,1,7,30, got {text!r}"
        )
    return days


def _take_units(pop: UnitPopulation, reserve: UnitPopulation, slots: np.ndarray, source: np.ndarray) -> UnitPopulation:
    """``pop`` with the units at flat ``slots`` replaced by the reserve's units at flat ``source``."""

    def put(target: np.ndarray, donor: np.ndarray) -> np.ndarray:
        out = target.copy()
        flat_out, flat_donor = out.reshape(-1, *out.shape[2:]), donor.reshape(-1, *donor.shape[2:])
        flat_out[slots] = flat_donor[source]
        return out

    firing = type(pop.firing)(**{k: put(v, getattr(reserve.firing, k)) for k, v in vars(pop.firing).items()})
    return replace(
        pop,
        rate_hz=put(pop.rate_hz, reserve.rate_hz),
        weights=put(pop.weights, reserve.weights),
        lag_s=put(pop.lag_s, reserve.lag_s),
        firing=firing,
    )


def _on_day(pop: UnitPopulation, log_baseline: np.ndarray, log_gain: np.ndarray, angle: np.ndarray) -> UnitPopulation:
    """The population as recorded on a day: rates scaled, tuning scaled and velocity weights rotated."""
    weights = pop.weights * np.exp(log_gain)[..., None]
    cos, sin = np.cos(angle), np.sin(angle)
    wx, wy = weights[..., 0].copy(), weights[..., 1].copy()
    weights[..., 0], weights[..., 1] = wx * cos - wy * sin, wx * sin + wy * cos
    # A sorted unit's refractory period bounds its rate (the simulator cannot reach a mean rate
    # above about 1 / dead time): the drifted rate stays under the array's busiest channel.
    rate = np.minimum(pop.rate_hz * np.exp(log_baseline), MAX_UNIT_RATE_HZ)
    return replace(pop, rate_hz=rate, weights=weights)


def simulate_days(
    days: Sequence[int],
    seconds: float = 600.0,
    channels: int = 96,
    seed: int = 0,
    rates: DriftRates = DriftRates(),
    units_per_channel: int = 3,
    finger_columns: int = 3,
) -> Iterator[SimulatedDay]:
    """Simulate one monkey's sessions on ``days`` (increasing, from 0), one at a time.

    Args:
        days: days since the first session, e.g. ``[0, 1, 2, 4, 7, 14, 21, 30]``.
        seconds: nominal session length; each day's is this times a factor from
            ``rates.length_factor``.
        channels: electrode channels of the array.
        seed: seed of the monkey and of every day.
        rates: the day-to-day drift.
        units_per_channel: unit slots per channel (3 or 5, hash unit included).
        finger_columns: 3 or 6 finger_pos columns.

    Yields:
        A :class:`SimulatedDay` per requested day, in order.
    """
    rng = np.random.default_rng([seed, 0])
    base = draw_population(channels, units_per_channel, rng)
    # New neurons come from a second population of the same array: same statistics, new tuning.
    reserve = draw_population(channels, units_per_channel, rng)
    shape = base.rate_hz.shape
    sorted_slot = np.broadcast_to(np.arange(units_per_channel) >= 1, shape)
    log_baseline, log_gain, angle = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    pop, lost, gained, died = base, 0, 0, 0
    wanted = set(days)
    for day in range(max(days) + 1):
        if day > 0:
            log_baseline += rates.baseline_sd * rng.standard_normal(shape)
            log_gain += rates.gain_sd * rng.standard_normal(shape)
            angle += rates.direction_sd * rng.standard_normal(shape)
            live = pop.rate_hz > 0
            channel_live = live.any(axis=1)
            dies = channel_live & (rng.random(channels) < rates.channel_death)
            loses = live & sorted_slot & (rng.random(shape) < rates.unit_loss) & ~dies[:, None]
            donors = np.flatnonzero((reserve.rate_hz > 0).ravel() & sorted_slot.ravel())
            gains = ~live & sorted_slot & channel_live[:, None] & ~dies[:, None] & (rng.random(shape) < rates.unit_gain)
            slots = np.flatnonzero(gains.ravel())
            pop = _take_units(pop, reserve, slots, rng.choice(donors, slots.size)) if slots.size and donors.size else pop
            rate = pop.rate_hz.copy()
            rate[loses | dies[:, None]] = 0.0
            pop = replace(pop, rate_hz=rate)
            # a new unit starts from the day's conditions: no drift of its own yet
            for drift in (log_baseline, log_gain, angle):
                drift.ravel()[slots] = 0.0
            lost, gained, died = lost + int(loses.sum()), gained + int(slots.size), died + int(dies.sum())
        if day not in wanted:
            continue
        length = seconds * float(rng.uniform(*rates.length_factor))
        day_seed = int(np.random.SeedSequence([seed, day + 1]).generate_state(1)[0])
        session = simulate_session(
            length, seed=day_seed, finger_columns=finger_columns, population=_on_day(pop, log_baseline, log_gain, angle)
        )
        live = pop.rate_hz > 0
        drift = {
            "simulator_version": SIMULATOR_VERSION,
            "seed": seed,
            "day": day,
            "session_seed": day_seed,
            "seconds": round(length, 3),
            "rates": asdict(rates),
            "units_alive": int(live.sum()),
            "units_lost_since_day0": lost,
            "units_gained_since_day0": gained,
            "channels_died_since_day0": died,
            "dead_channels": [int(c) for c in np.flatnonzero(~live.any(axis=1))],
            "baseline_log_sd": float(log_baseline[live].std()) if live.any() else 0.0,
            "gain_log_sd": float(log_gain[live].std()) if live.any() else 0.0,
            "direction_rms_rad": float(np.sqrt(np.mean(angle[live] ** 2))) if live.any() else 0.0,
        }
        yield SimulatedDay(day, FIRST_DATE + datetime.timedelta(days=day), session, drift)
