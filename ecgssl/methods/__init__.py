"""Self-supervised methods over one base class; each registers in ``METHODS``."""

from ecgssl.methods.barlow_twins import BarlowTwins
from ecgssl.methods.base import SSLMethod, cosine_momentum
from ecgssl.methods.bell import BELL
from ecgssl.methods.byol import BYOL
from ecgssl.methods.clocs import CLOCS
from ecgssl.methods.heads import LeadwiseLinear, LeadwiseMLPHead, MLPHead
from ecgssl.methods.lead_barlow import LeadBarlow
from ecgssl.methods.lead_pairs import LeadPairMethod
from ecgssl.methods.losses import (
    barlow_twins_loss,
    bell_loss,
    byol_loss,
    clocs_loss,
    fuse_lead_pairs,
    lead_barlow_loss,
    moco_v3_loss,
    negative_cosine_loss,
    nt_xent_loss,
    vicreg_loss,
)
from ecgssl.methods.moco_v3 import MoCoV3
from ecgssl.methods.simclr import SimCLR
from ecgssl.methods.simsiam import SimSiam
from ecgssl.methods.vicreg import VICReg

__all__ = [
    "BELL",
    "BYOL",
    "CLOCS",
    "BarlowTwins",
    "LeadBarlow",
    "LeadPairMethod",
    "LeadwiseLinear",
    "LeadwiseMLPHead",
    "MLPHead",
    "MoCoV3",
    "SSLMethod",
    "SimCLR",
    "SimSiam",
    "VICReg",
    "barlow_twins_loss",
    "bell_loss",
    "byol_loss",
    "clocs_loss",
    "cosine_momentum",
    "fuse_lead_pairs",
    "lead_barlow_loss",
    "moco_v3_loss",
    "negative_cosine_loss",
    "nt_xent_loss",
    "vicreg_loss",
]
