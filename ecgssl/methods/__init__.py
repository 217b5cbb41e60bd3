"""Self-supervised methods over one base class; each registers in ``METHODS``."""

from ecgssl.methods.base import SSLMethod, cosine_momentum
from ecgssl.methods.bell import BELL
from ecgssl.methods.byol import BYOL
from ecgssl.methods.heads import LeadwiseLinear, LeadwiseMLPHead, MLPHead
from ecgssl.methods.losses import bell_loss, byol_loss, nt_xent_loss
from ecgssl.methods.simclr import SimCLR

__all__ = [
    "BELL",
    "BYOL",
    "LeadwiseLinear",
    "LeadwiseMLPHead",
    "MLPHead",
    "SSLMethod",
    "SimCLR",
    "bell_loss",
    "byol_loss",
    "cosine_momentum",
    "nt_xent_loss",
]
