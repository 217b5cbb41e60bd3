"""ECGSYN for 12 leads in one integration (the built-in dataset's simulator).

ECGSYN (McSharry, Clifford, Tarassenko & Smith, IEEE TBME 2003) moves a point (x, y, z) round
a limit cycle; z is the ECG. ``neurokit2.ecg_simulate(method="multileads")`` makes 12 leads by
integrating the whole three-dimensional system once per lead, with the lead's wave amplitudes
``gamma[lead] * ai``. Twelve integrations are not needed:

- x and y do not depend on the amplitudes, so all leads share them;
- z's equation is linear in z and in the amplitudes:
  ``dz/dt = -sum_k a_k g_k(theta) - (z - z_base(t))`` with ``g_k = dtheta_k exp(-dtheta_k^2 / 2 b_k^2)``.

So ``z_lead = z0 - sum_k gamma[lead, k] a_k F_k`` where ``dz0/dt = -(z0 - z_base)`` and
``dF_k/dt = g_k - F_k`` (``z0(0) = 0.04``, ``F_k(0) = 0``): one integration of an
eight-dimensional system gives every lead. It is integrated more tightly than neurokit2
integrates each lead (DOP853 at rtol 1e-4 instead of RK45 at rtol 1e-3: within 0.005 of the
exact solution on the [-0.4, 1.2] scale, where neurokit2's leads drift by up to 0.3 as beat
timing errors accumulate) and is still about 13x faster (0.08 vs 1.05 CPU-seconds per 6-s
record). ``tests/data/test_ecgsyn.py`` checks
it against neurokit2's own equations integrated tightly.

The RR tachogram is ECGSYN's (a bimodal spectrum, Mayer waves at 0.1 Hz and respiratory sinus
arrhythmia at 0.25 Hz, with random phases), drawn from ``numpy.random.RandomState(random_state)``
in the order neurokit2 draws it, so the same ``random_state`` gives the same beats in both.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

__all__ = ["LEAD_GAMMA", "NoProgressError", "rr_tachogram", "simulate_12lead"]

#: Per-lead gains of the P, Q, R, S, T amplitudes (leads I, II, III, aVR, aVL, aVF, V1-V6):
#: neurokit2's ``multileads`` matrix (neurokit2 is MIT-licensed).
LEAD_GAMMA = np.array([
    [1, 0.1, 1, 1.2, 1], [2, 0.2, 0.2, 0.2, 3], [1, -0.1, -0.8, -1.1, 2.5],
    [-1, -0.05, -0.8, -0.5, -1.2], [0.05, 0.05, 1, 1, 1], [1, -0.05, -0.1, -0.1, 3],
    [-0.5, 0.05, 0.2, 0.5, 1], [0.05, 0.05, 1.3, 2.5, 2], [1, 0.05, 1, 2, 1],
    [1.2, 0.05, 1, 2, 2], [1.5, 0.1, 0.8, 1, 2], [1.8, 0.05, 0.5, 0.1, 2],
])  # fmt: skip

_Z_START = 0.04  # ECGSYN's initial state is (1, 0, 0.04)
_F_RESP = 0.25  # Hz, the baseline's respiratory drift
# Within 0.005 (of the [-0.4, 1.2] range) of the exact solution, at ~0.08 CPU-s per 6-s
# record. neurokit2 integrates with RK45 at scipy's defaults (rtol 1e-3): up to 0.3 off.
_RTOL, _ATOL = 1e-4, 1e-7


class NoProgressError(RuntimeError):
    """The RR draw has a non-positive interval, so the beat sequence cannot advance."""


def rr_tachogram(
    rng: np.random.RandomState, hr_mean: float, hr_std: float, lfhf_ratio: float, n: int
) -> NDArray[np.float64]:
    """ECGSYN's RR process: ``n`` RR intervals (s) sampled at 1 Hz.

    A power spectrum with Gaussian peaks at 0.1 Hz (weight ``lfhf_ratio``) and 0.25 Hz (weight
    1), both of s.d. 0.01 Hz, random phases, inverse FFT, scaled to mean ``60 / hr_mean`` s and
    s.d. ``60 hr_std / hr_mean^2`` s.
    """
    w = np.arange(n) * 2 * np.pi / n
    c1 = c2 = 2 * np.pi * 0.01
    hw = lfhf_ratio * np.exp(-0.5 * ((w - 2 * np.pi * 0.1) / c1) ** 2) / np.sqrt(2 * np.pi * c1**2)
    hw += np.exp(-0.5 * ((w - 2 * np.pi * 0.25) / c2) ** 2) / np.sqrt(2 * np.pi * c2**2)
    half = n // 2
    amplitude = 0.5 * np.sqrt(np.concatenate([hw[:half], hw[half - 1 :: -1]]))
    phases = 2 * np.pi * rng.uniform(size=half - 1)
    ph = np.concatenate([[0.0], phases, [0.0], -phases[::-1]])
    x = np.fft.ifft(amplitude * np.exp(1j * ph)).real / n
    return 60 / hr_mean + x * (60 * hr_std / hr_mean**2) / np.std(x)


def simulate_12lead(
    duration: float,
    fs: int,
    heart_rate: float,
    heart_rate_std: float,
    lfhf_ratio: float,
    ti: NDArray[np.float64],
    ai: NDArray[np.float64],
    bi: NDArray[np.float64],
    random_state: int,
) -> NDArray[np.float64]:
    """Twelve ECGSYN leads, (12, ceil(duration * fs)), each scaled to [-0.4, 1.2] as
    neurokit2 scales them.

    Args:
        duration: Seconds to simulate.
        fs: Sampling rate in Hz (ECGSYN's internal rate as well).
        heart_rate: Mean heart rate (bpm).
        heart_rate_std: Heart-rate standard deviation (bpm).
        lfhf_ratio: LF/HF power ratio of the RR process.
        ti: Angles of the P, Q, R, S, T extrema in degrees.
        ai: Their amplitudes (lead gains ``LEAD_GAMMA`` multiply these).
        bi: Their Gaussian widths.
        random_state: Seed of the RR process.

    Raises:
        NoProgressError: The RR draw contains a non-positive interval (rare with large
            ``heart_rate_std``); redraw with another ``random_state``.
    """
    ti = np.asarray(ti, dtype=np.float64) * np.pi / 180
    ai = np.asarray(ai, dtype=np.float64)
    bi = np.asarray(bi, dtype=np.float64)
    hrfact = math.sqrt(heart_rate / 60)
    hrfact2 = math.sqrt(hrfact)
    bi = hrfact * bi
    ti = np.array([hrfact2, hrfact, 1, hrfact, hrfact2]) * ti
    n_beats = round(duration * heart_rate / 60)
    n_rr = int(2 ** math.ceil(math.log2(n_beats * (60 / heart_rate))))
    rng = np.random.RandomState(random_state)
    rr0 = rr_tachogram(rng, heart_rate, heart_rate_std, lfhf_ratio, n_rr)
    import neurokit2 as nk  # its resampler, so the beats match neurokit2's exactly

    rr = np.asarray(nk.signal_resample(rr0, sampling_rate=1, desired_sampling_rate=fs))
    # Hold each RR interval for its own duration (ECGSYN's piecewise-constant RR(t)).
    dt = 1 / fs
    rrn = np.zeros(len(rr))
    t_ecg, i, ip = 0.0, 0, 0
    while i < len(rr):
        t_ecg += rr[i]
        ip = int(np.round(t_ecg / dt))
        if ip <= i:
            raise NoProgressError(f"RR interval {rr[i]:.3f} s does not advance the beat sequence")
        rrn[i:ip] = rr[i]
        i = ip
    n_t = ip
    omega = (2 * np.pi / rrn).tolist()
    last = len(rrn) - 1

    waves = list(zip(ti.tolist(), (-0.5 / bi**2).tolist()))
    two_pi = 2 * math.pi

    def derivative(t: float, s: NDArray[np.float64]) -> NDArray[np.float64]:
        # Scalar math: numpy's per-call overhead on five-element arrays would dominate.
        x, y, z0 = float(s[0]), float(s[1]), float(s[2])
        theta = math.atan2(y, x)
        a0 = 1.0 - math.hypot(x, y)
        w0 = omega[min(int(t * fs), last)]
        out = [a0 * x - w0 * y, a0 * y + w0 * x, 0.005 * math.sin(two_pi * _F_RESP * t) - z0]
        for k, (t_k, c_k) in enumerate(waves):
            d = (theta - t_k + math.pi) % two_pi - math.pi  # wrapped to [-pi, pi)
            out.append(d * math.exp(c_k * d * d) - float(s[3 + k]))
        return np.array(out)

    t_eval = np.linspace(0, (n_t - 1) * dt, n_t)
    s0 = np.array([1.0, 0.0, _Z_START, 0, 0, 0, 0, 0])
    sol = solve_ivp(
        derivative, (0.0, (n_t - 1) * dt), s0, method="DOP853", t_eval=t_eval,
        rtol=_RTOL, atol=_ATOL,
    )  # fmt: skip
    if not sol.success:
        raise RuntimeError(f"ECGSYN integration failed: {sol.message}")
    z = sol.y[2][None, :] - (LEAD_GAMMA * ai) @ sol.y[3:]
    lo = z.min(axis=1, keepdims=True)
    span = np.maximum(z.max(axis=1, keepdims=True) - lo, 1e-12)
    z = (z - lo) * 1.6 / span - 0.4
    return z[:, : math.ceil(duration * fs)]
