"""Draw every registered augmentation applied to one 12-lead ECG: docs/img/augmentation_gallery.png.

python docs/scripts/augmentation_gallery.py                       # LUDB record 1 if found
python docs/scripts/augmentation_gallery.py --ludb ~/data/ludb    # a LUDB folder
python docs/scripts/augmentation_gallery.py --out /tmp/gallery.png

Uses a real record of LUDB (Lobachevsky University ECG Database, 500 Hz, 10 s) when the folder
is there (default ../shared/data/ludb beside the repository), else the built-in simulated
dataset. Needs matplotlib (pip install "ecgssl[plot]").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import ecgssl
from ecgssl.registry import AUGMENTATIONS

ROOT = Path(__file__).resolve().parents[2]
COMBINATORS = {"compose", "one_of", "random_apply"}
SHOWN_LEADS = ("I", "II", "V1", "V5")
SECONDS = 4.0

#: What each augmentation may invalidate; repeated in docs/augmentations.md.
RISKS = {
    "amplitude_scale": "voltage criteria (LVH, low voltage)",
    "bandpass": "ST deviation (high-pass > 0.67 Hz distorts ST), notching",
    "baseline_shift": "ST elevation/depression if the shift differs between leads",
    "baseline_wander": "ST deviation",
    "emg_noise": "small waves (P waves, f waves, pacing spikes)",
    "gaussian_noise": "small waves (P waves, f waves) at high noise",
    "lead_mask": "anything defined in the masked lead (axis, localised MI)",
    "lowpass": "QRS notching, fragmented QRS, delta waves, pacing spikes",
    "powerline_noise": "small waves at high amplitude",
    "random_crop": "rhythms that need the whole record (intermittent AF, pauses)",
    "random_resized_crop": "heart rate and intervals (brady/tachycardia, PR, QRS, QT)",
    "sign_inversion": "T-wave inversion, axis, aVR, dextrocardia",
    "time_mask": "short events (ectopic beats, pauses)",
    "time_shift": "nothing diagnostic (circular shift joins the record's ends)",
    "time_warp": "heart rate, RR regularity (AF vs sinus), intervals",
    "vcg_rotation": "axis deviation, localised changes, lead-specific morphology",
}


def load_record(ludb: Path | None) -> tuple[np.ndarray, float, list[str], str]:
    """(leads, time) signal in mV, fs, lead names and a description of the source."""
    folder = ludb if ludb is not None else ROOT.parent / "shared" / "data" / "ludb"
    if (folder / "data" / "1.hea").is_file():
        import wfdb

        rec = wfdb.rdrecord(str(folder / "data" / "1"))
        names = [n.upper().replace("AVR", "aVR").replace("AVL", "aVL").replace("AVF", "aVF")
                 for n in rec.sig_name]  # fmt: skip
        return rec.p_signal.T.astype(np.float32), float(rec.fs), names, "LUDB record 1"
    data = ecgssl.load_dataset("synthetic", n_records=20, fs=500.0, progress=False)
    return data.signals[0], data.fs, list(data.leads), "simulated record (ecgssl synthetic)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ludb", type=Path, default=None, help="LUDB folder")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "img" / "augmentation_gallery.png"
    )
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    signal, fs, leads, source = load_record(args.ludb)
    x = torch.as_tensor(signal[None, :, : int(SECONDS * fs)])  # (1, 12, time)
    names = [n for n in ecgssl.list_augmentations() if n not in COMBINATORS]
    missing = set(names) - set(RISKS)
    if missing:
        raise SystemExit(f"add the diagnostic risks of {sorted(missing)} to RISKS")
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), sharey=True)
    shown = [leads.index(n) for n in SHOWN_LEADS]
    for ax, name in zip(axes.flat, names):
        aug = AUGMENTATIONS.build(name)
        y = aug(x, fs, torch.Generator().manual_seed(3))[0].numpy()
        for k, li in enumerate(shown):
            off = -2.0 * k
            ax.plot(np.arange(x.shape[-1]) / fs, x[0, li].numpy() + off, color="0.7", lw=0.7)
            ax.plot(np.arange(y.shape[-1]) / fs, y[li] + off, color=f"C{k}", lw=0.8)
            ax.text(-0.05, off, leads[li], ha="right", va="center", fontsize=7)
        ax.set_title(name, fontsize=10, fontweight="bold")
        ax.set_xlabel(f"s  · may invalidate: {RISKS[name]}", fontsize=6.5, wrap=True)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"Every ecgssl augmentation (default settings) on {source}, {fs:g} Hz; "
                 "grey: original, colour: augmented; leads offset by 2 mV", fontsize=11)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out} ({source}, {len(names)} augmentations)")


if __name__ == "__main__":
    main()
