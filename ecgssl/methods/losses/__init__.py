"""SSL losses as pure functions (no state, no modules), one family per file.

- :mod:`~ecgssl.methods.losses.bootstrap`: BYOL and SimSiam (no negatives);
- :mod:`~ecgssl.methods.losses.contrastive`: SimCLR's NT-Xent, MoCo v3's InfoNCE, CLOCS;
- :mod:`~ecgssl.methods.losses.redundancy`: Barlow Twins and VICReg;
- :mod:`~ecgssl.methods.losses.lead_pairs`: the intra-/inter-lead fusion shared by BELL and
  lead-wise Barlow Twins.

Each is tested against a slow reference written out with explicit loops
(``tests/methods/test_losses*.py``).
"""

from ecgssl.methods.losses.bootstrap import byol_loss, negative_cosine_loss
from ecgssl.methods.losses.contrastive import clocs_loss, moco_v3_loss, nt_xent_loss
from ecgssl.methods.losses.lead_pairs import bell_loss, fuse_lead_pairs, lead_barlow_loss
from ecgssl.methods.losses.redundancy import (
    barlow_twins_loss,
    batch_standardize,
    cross_lead_covariance,
    lead_variance_covariance,
    vicreg_loss,
)

__all__ = [
    "barlow_twins_loss",
    "batch_standardize",
    "bell_loss",
    "byol_loss",
    "clocs_loss",
    "cross_lead_covariance",
    "fuse_lead_pairs",
    "lead_barlow_loss",
    "lead_variance_covariance",
    "moco_v3_loss",
    "negative_cosine_loss",
    "nt_xent_loss",
    "vicreg_loss",
]
