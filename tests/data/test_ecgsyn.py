"""ECGSYN in one integration: the superposition is exact, it is accurate, and it draws the same
beats as neurokit2."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.integrate

from ecgssl.data import ecgsyn
from ecgssl.data.ecgsyn import LEAD_GAMMA, NoProgressError, simulate_12lead

TI = np.array([-70.0, -15.0, 0.0, 15.0, 100.0])
AI = np.array([1.2, -5.0, 30.0, -7.5, 0.75])
BI = np.array([0.25, 0.1, 0.1, 0.1, 0.4])


_SOLVE = scipy.integrate.solve_ivp


def _exact(*args, **kwargs):
    """solve_ivp integrated to 1e-10: the ODE's exact solution, for comparisons."""
    kwargs.update(rtol=1e-10, atol=1e-12, method="DOP853")
    return _SOLVE(*args, **kwargs)


def _neurokit2(duration, hr, hr_std, seed):
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = nk.ecg_simulate(
            duration=duration, sampling_rate=500, method="multileads", noise=0, heart_rate=hr,
            heart_rate_std=hr_std, lfhfratio=0.5, ti=TI, ai=AI, bi=BI, random_state=seed,
        )  # fmt: skip
    return np.asarray(df, dtype=np.float64).T


@pytest.mark.parametrize("hr", [95.0])
def test_equals_neurokit2s_twelve_integrations_when_both_are_exact(monkeypatch, hr):
    """neurokit2 integrates each lead's 3-d system; ecgsyn integrates one 8-d system. With
    both integrated to 1e-10 the leads agree: the superposition (and the RR draw) is exact."""
    monkeypatch.setattr(scipy.integrate, "solve_ivp", _exact)  # what neurokit2 calls
    monkeypatch.setattr(ecgsyn, "solve_ivp", _exact)
    ref = _neurokit2(2.0, hr, 2.0, seed=11)
    ours = simulate_12lead(2.0, 500, hr, 2.0, 0.5, TI, AI, BI, random_state=11)
    assert ours.shape == ref.shape == (12, 1000)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_default_tolerance_is_close_to_the_exact_solution(monkeypatch):
    fast = simulate_12lead(6.0, 500, 75.0, 2.0, 0.5, TI, AI, BI, random_state=3)
    monkeypatch.setattr(ecgsyn, "solve_ivp", _exact)
    exact = simulate_12lead(6.0, 500, 75.0, 2.0, 0.5, TI, AI, BI, random_state=3)
    assert np.abs(fast - exact).max() < 0.01  # of the [-0.4, 1.2] range (0.005 measured)


def test_leads_are_scaled_like_neurokit2_and_deterministic():
    a = simulate_12lead(3.0, 500, 70.0, 1.0, 0.5, TI, AI, BI, random_state=5)
    b = simulate_12lead(3.0, 500, 70.0, 1.0, 0.5, TI, AI, BI, random_state=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (12, 1500) and LEAD_GAMMA.shape == (12, 5)
    # Scaled to [-0.4, 1.2] over the whole simulated beat sequence, then cut to 3 s.
    assert a.min() >= -0.4 - 1e-9 and a.max() <= 1.2 + 1e-9 and np.ptp(a, axis=1).min() > 0.5
    c = simulate_12lead(3.0, 500, 70.0, 1.0, 0.5, TI, AI, BI, random_state=6)
    assert not np.allclose(a, c)


def test_rr_draw_that_cannot_advance_raises():
    with pytest.raises(NoProgressError, match="does not advance"):
        # A heart-rate s.d. this large gives negative RR intervals.
        for seed in range(50):
            simulate_12lead(4.0, 500, 60.0, 200.0, 0.5, TI, AI, BI, random_state=seed)
