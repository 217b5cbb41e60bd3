"""Representation-health statistics: healthy, fully collapsed and lead-collapsed encoders."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from ecgssl.encoders import Encoder
from ecgssl.registry import ENCODERS
from ecgssl.training.health import is_collapsed, representation_health


class Constant(Encoder):
    """A collapsed encoder: the same latent for every record and lead."""

    def __init__(self, n_leads: int = 3, d: int = 8) -> None:
        super().__init__()
        self.n_leads, self.per_lead_dim, self.output_dim = n_leads, d, n_leads * d
        self.w = torch.nn.Parameter(torch.ones(d))

    def forward_leads(self, x: Tensor) -> Tensor:
        return self.w.expand(x.shape[0], self.n_leads, -1)

    def encode(self, x: Tensor) -> Tensor:
        return self.forward_leads(x).flatten(1)


def test_random_encoder_is_healthy():
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, width=4, per_lead_dim=8)
    h = representation_health(enc, torch.randn(32, 3, 200))
    assert h["embedding_std"] > 0.01 and h["effective_rank"] > 2
    assert h["relative_variance"] > 0.01
    assert -1 <= h["inter_lead_cos"] <= 1 and -1 <= h["intra_lead_cos"] <= 1
    assert not is_collapsed(h)
    assert enc.training  # mode restored


def test_constant_encoder_is_collapsed():
    h = representation_health(Constant(), torch.randn(16, 3, 50))
    assert h["embedding_std"] == pytest.approx(0.0, abs=1e-6)
    assert h["effective_rank"] == pytest.approx(1.0)
    assert h["relative_variance"] == pytest.approx(0.0, abs=1e-9)
    assert h["intra_lead_cos"] == pytest.approx(1.0) and h["inter_lead_cos"] == pytest.approx(1.0)
    assert is_collapsed(h)


def test_effective_rank_of_a_known_spectrum():
    class Fixed(Encoder):
        def __init__(self, z: Tensor) -> None:
            super().__init__()
            self.n_leads, self.output_dim, self.z = 1, z.shape[1], z

        def encode(self, x: Tensor) -> Tensor:
            return self.z

    # 4 orthogonal directions with equal energy -> effective rank 4.
    z = torch.cat([torch.eye(4), -torch.eye(4)]) * 3.0
    h = representation_health(Fixed(z), torch.zeros(8, 1, 10))
    assert h["effective_rank"] == pytest.approx(4.0, rel=1e-6)


def test_needs_two_records():
    enc = ENCODERS.build("multibranch", n_leads=3, width=4, per_lead_dim=8)
    with pytest.raises(ValueError, match="at least 2"):
        representation_health(enc, torch.randn(1, 3, 200))


def test_pretrainer_logs_health_every_epoch():
    from ecgssl.augment import Compose, TwoViews
    from ecgssl.registry import AUGMENTATIONS, METHODS
    from ecgssl.training import Pretrainer

    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, width=4, per_lead_dim=8)
    views = TwoViews(Compose([AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
                              AUGMENTATIONS.build("gaussian_noise")]))  # fmt: skip
    x = torch.randn(24, 3, 100)
    common = {"epochs": 2, "batch_size": 8, "progress": False, "device": "cpu"}
    result = Pretrainer(METHODS.build("bell", encoder=enc), views, **common).fit(x, fs=50.0)
    for h in result.history:
        for key in ("embedding_std", "relative_variance", "effective_rank", "intra_lead_cos",
                    "inter_lead_cos"):  # fmt: skip
            assert torch.isfinite(torch.tensor(h[f"health/{key}"]))
    off = Pretrainer(METHODS.build("byol", encoder=enc), views, health_every=0, **common)
    assert not any(k.startswith("health/") for k in off.fit(x, fs=50.0).history[0])
    with pytest.raises(ValueError, match="health_every"):
        Pretrainer(METHODS.build("byol", encoder=enc), views, health_every=-1, **common)
