"""Streamed sets: reads by set index, several caches with leads matched by name, weighted
sampling proportions, deterministic epoch orders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgssl.data.cache_build import build_signal_cache
from ecgssl.data.streamed import ArrayRows, StreamedSignals, stream_caches
from ecgssl.errors import InvalidValueError


def _cache(folder, n, leads, value, fs=50.0, length=20, skip=()):
    def produce(a, b):
        x = np.zeros((b - a, len(leads), length), dtype=np.float32)
        x += value + np.arange(a, b, dtype=np.float32)[:, None, None] / 1000
        x += np.arange(len(leads), dtype=np.float32)[None, :, None] / 100
        return x, ~np.isin(np.arange(a, b), skip)

    return build_signal_cache(folder, produce, n, fs=fs, leads=leads, length=length,
                              progress=False)  # fmt: skip


def test_caches_stream_as_one_set_with_leads_matched_by_name(tmp_path):
    a = _cache(tmp_path / "a", 10, ["I", "II", "V1"], 1.0, skip=[4])
    b = _cache(tmp_path / "b", 5, ["v1", "i"], 2.0)
    s = stream_caches([a, str(tmp_path / "b")])
    assert s.leads == ("I", "V1") and len(s) == 9 + 5
    x = s.read(np.array([13, 0, 4, 9]))
    # a: rows 0..9 without 4, leads I (0) and V1 (2); b: leads I (col 1) and V1 (col 0)
    np.testing.assert_allclose(x[:, :, 0], [[2.004 + 0.01, 2.004], [1.0, 1.02],
                                            [1.005, 1.025], [2.0 + 0.01, 2.0]], atol=1e-6)  # fmt: skip
    with pytest.raises(InvalidValueError, match="lacks lead"):
        stream_caches([a, b], leads=["I", "II"])
    c = _cache(tmp_path / "c", 5, ["I"], 0.0, fs=100.0)
    with pytest.raises(InvalidValueError, match="one rate"):
        stream_caches([a, c])


def test_unweighted_order_is_the_in_memory_permutation():
    s = StreamedSignals([ArrayRows(np.zeros((37, 1, 4), np.float32))], fs=10.0, leads=["I"])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(s.epoch_order(g1), torch.randperm(37, generator=g2))


def test_weighted_sources_are_drawn_in_proportion_to_their_weights(tmp_path):
    sizes, weights = [100, 20, 300], [0.5, 0.3, 0.2]
    srcs = [ArrayRows(np.full((n, 1, 2), k, np.float32)) for k, n in enumerate(sizes)]
    s = StreamedSignals(srcs, fs=10.0, leads=["I"], weights=weights, epoch_records=20000)
    order = s.epoch_order(torch.Generator().manual_seed(0))
    assert order.shape == (20000,)
    source = np.searchsorted(s.offsets, order.numpy(), side="right") - 1
    share = np.bincount(source, minlength=3) / len(order)
    np.testing.assert_allclose(share, weights, atol=0.015)  # binomial sd ~0.0035
    # the small source is cycled through its permutation: every record about equally often
    small = np.bincount(order.numpy()[source == 1] - 100, minlength=20)
    assert small.min() >= small.max() - 1
    # deterministic for a generator state, different for another
    again = s.epoch_order(torch.Generator().manual_seed(0))
    assert torch.equal(order, again)
    assert not torch.equal(order, s.epoch_order(torch.Generator().manual_seed(1)))
    x = s.read(order[:50])
    np.testing.assert_array_equal(x[:, 0, 0], source[:50])
    with pytest.raises(InvalidValueError, match="weights"):
        StreamedSignals(srcs, fs=10.0, leads=["I"], weights=[1, -1, 0])
