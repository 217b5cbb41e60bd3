"""PhysioNet/Computing in Cardiology Challenge 2021 (``physionet2021``) and its sources.

The challenge distributes 12-lead records of eight databases as WFDB headers with MATLAB v4
``.mat`` signal files; header comments carry ``# Age:``, ``# Sex:`` and ``# Dx:`` (SNOMED CT
codes). Reyna et al., "Will Two Do? Varying Dimensions in Electrocardiography: The
PhysioNet/Computing in Cardiology Challenge 2021", CinC 2021.

Records are read by :func:`ecgssl.data.cinc.read_cinc`, which repairs the header quirks of
the real releases (non-WFDB dates, ``.mat`` in the record line) and reports each record it
cannot use with its reason (malformed header, missing or truncated ``.mat``, implausible
amplitude); ``info["skip_summary"]`` counts them per source and reason.

Each source also has its own dataset name (``georgia``, ``chapman``...), selected from the
record-name prefix the challenge uses. The label space is the challenge's 30 scored
diagnoses with its four pairs of equivalent codes merged (26 classes, named like the columns
of its ``weights.csv``, e.g. ``"733534002|164909002"``), or a user-given code list.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ecgssl.data.assemble import finish_dataset, make_split, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.cinc import read_cinc
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.quality import flat_leads_of, summarize_skipped
from ecgssl.data.records import header_fields, parse_dx_codes
from ecgssl.data.store import SourceRecord, _warn, load_signals
from ecgssl.errors import DataNotFoundError, InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = [
    "PHYSIONET2021_SOURCES",
    "PHYSIONET2021_URL",
    "SCORED_CLASSES",
    "load_physionet2021",
    "read_dx_mapping",
    "record_source",
]

PHYSIONET2021_URL = "https://physionet.org/content/challenge-2021/1.0.3/"
_MAPPING_URL = "https://github.com/physionetchallenges/evaluation-2021"
#: Source name -> the databases' record-name prefixes in the challenge data.
PHYSIONET2021_SOURCES = {
    "cpsc2018": "A", "cpsc2018_extra": "Q", "incart": "I", "ptb": "S", "ptbxl_cinc": "HR",
    "georgia": "E", "chapman": "JS", "ningbo": "JS",
}  # fmt: skip
_CHAPMAN_LAST = 10646  # JS00001–JS10646: Chapman-Shaoxing; JS10647 onwards: Ningbo

#: The challenge's scored classes (``dx_mapping_scored.csv``) with equivalent codes merged.
SCORED_CLASSES: tuple[tuple[str, str], ...] = (
    ("164889003", "AF"), ("164890007", "AFL"), ("6374002", "BBB"), ("426627000", "Brady"),
    ("733534002|164909002", "CLBBB|LBBB"), ("713427006|59118001", "CRBBB|RBBB"),
    ("270492004", "IAVB"), ("713426002", "IRBBB"), ("39732003", "LAD"), ("445118002", "LAnFB"),
    ("251146004", "LQRSV"), ("698252002", "NSIVCB"), ("426783006", "NSR"),
    ("284470004|63593006", "PAC|SVPB"), ("10370003", "PR"), ("365413008", "PRWP"),
    ("427172004|17338001", "PVC|VPB"), ("164947007", "LPR"), ("111975006", "LQT"),
    ("164917005", "QAb"), ("47665007", "RAD"), ("427393009", "SA"), ("426177001", "SB"),
    ("427084000", "STach"), ("164934002", "TAb"), ("59931005", "TInv"),
)  # fmt: skip


def record_source(record_id: str) -> str | None:
    """The challenge source of a record name (``"E07500"`` -> ``"georgia"``), or ``None``."""
    name = Path(record_id).name
    m = re.match(r"^([A-Z]+)(\d+)$", name)
    if not m:
        return None
    prefix, number = m.groups()
    if prefix == "JS":
        return "chapman" if int(number) <= _CHAPMAN_LAST else "ningbo"
    for source, p in PHYSIONET2021_SOURCES.items():
        if p == prefix:
            return source
    return None


def read_dx_mapping(path: str | Path) -> tuple[tuple[str, str], ...]:
    """Scored classes from the challenge's ``dx_mapping_scored.csv``: ``(codes, abbrevs)``
    pairs in file order, merging the codes its Notes column scores as the same diagnosis."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    groups: list[list[tuple[str, str]]] = []
    where: dict[str, int] = {}
    for r in rows:
        code, abbr = r["SNOMEDCTCode"].strip(), r["Abbreviation"].strip()
        m = re.search(r"score (\d+) and (\d+) as the same", r.get("Notes", "") or "")
        other = next((c for c in (m.groups() if m else ()) if c != code and c in where), None)
        if other is not None:
            groups[where[other]].append((code, abbr))
            where[code] = where[other]
        else:
            where[code] = len(groups)
            groups.append([(code, abbr)])
    return tuple(("|".join(c for c, _ in g), "|".join(a for _, a in g)) for g in groups)


def _records(path: Path, sources: set[str] | None) -> list[SourceRecord]:
    out = []
    for hea in sorted(path.rglob("*.hea")):
        if sources is not None and record_source(hea.stem) not in sources:
            continue
        stem = hea.with_suffix("")
        rid = str(stem.relative_to(path))
        out.append(SourceRecord(rid, str(stem), (str(hea), str(stem) + ".mat")))
    return out


@DATASETS.register("physionet2021", "cinc2021", "challenge2021")
def load_physionet2021(
    root: str | Path | None = None,
    source: str | Sequence[str] | None = None,
    split: str | Sequence[str] | None = None,
    fs: float | None = 500.0,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    *,
    classes: Sequence[str] | None = None,
    drop_unlabeled: bool = False,
    split_method: str = "hash",
    crop: str = "start",
    bandpass: tuple[float | None, float | None] | None = None,
    standardize: str = "none",
    missing_leads: str = "raise",
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    name: str = "physionet2021",
) -> ECGDataset:
    """PhysioNet/CinC 2021 records (any folder tree of ``.hea`` + ``.mat`` under ``root``).

    Variable-length records (6 s to 30 min across sources) are cut to ``window`` seconds from
    the start (``crop="center"``: the middle) and shorter ones zero-padded at the end. The
    challenge has no public test split: train/val/test (70/15/15 %) come from a hash of the
    record name, stable across machines. Patient ids are not distributed (``None``).

    Args:
        root: The folder holding the records (e.g. ``training/`` of the challenge).
        source: Keep only these sources (:data:`PHYSIONET2021_SOURCES`); ``None``: all.
        split: Return only ``"train"``, ``"val"`` or ``"test"``.
        fs, leads, window, crop, bandpass, standardize, missing_leads: Preprocessing; see
            :class:`ecgssl.data.PreprocessConfig`.
        classes: SNOMED CT codes to use as classes (``"a|b"`` merges codes); default: the
            scored classes of ``dx_mapping_scored.csv`` when found under ``root``, else the
            built-in copy :data:`SCORED_CLASSES`.
        drop_unlabeled: Drop records with none of the classes.
        split_method: ``"hash"`` or ``"stratified"``; see
            :func:`ecgssl.data.assemble.make_split`.
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.
        name: Dataset name (set by the per-source loaders).

    Returns:
        An :class:`ECGDataset`; ``record_info`` holds ``dx`` (the raw codes), ``age``, ``sex``,
        ``source``, ``flat_leads`` (names of flat leads, ``""`` if none) and ``header_quirks``
        (what was repaired in the header). ``info["skipped"]`` maps each skipped record to
        its reason, ``info["skip_summary"]`` counts them per source and reason, and
        ``info["loaded_by_source"]`` counts the records loaded.
    """
    wanted = None
    if source is not None:
        wanted = {source} if isinstance(source, str) else set(source)
        unknown = wanted - set(PHYSIONET2021_SOURCES)
        if unknown:
            raise InvalidValueError(
                f"unknown source(s) {sorted(unknown)}; choose from {sorted(PHYSIONET2021_SOURCES)}"
            )
    path = require_root(root, name, (), PHYSIONET2021_URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads), window=window,
                              crop=crop, bandpass=bandpass, standardize=standardize,
                              missing_leads=missing_leads)  # fmt: skip
    sources = _records(path, wanted)
    if not sources:
        which = f" of source {sorted(wanted)}" if wanted else ""
        raise DataNotFoundError(
            f"no WFDB records{which} (*.hea + *.mat) under {path}; download the challenge "
            f"data from {PHYSIONET2021_URL}"
        )
    stored = load_signals(name, sources, read_cinc, config, cache=cache, strict=strict,
                          n_jobs=n_jobs, progress=progress, url=PHYSIONET2021_URL)  # fmt: skip
    if classes is None:
        mapping_files = sorted(path.rglob("dx_mapping_scored.csv"))
        scored = read_dx_mapping(mapping_files[0]) if mapping_files else SCORED_CLASSES
        names = tuple(c for c, _ in scored)
        abbrevs = {c: a for c, a in scored}
    else:
        names, abbrevs = tuple(str(c) for c in classes), {}
    column = {code: j for j, group in enumerate(names) for code in group.split("|")}
    fields = [header_fields(c) for c in stored.comments]
    dx = [parse_dx_codes(f.get("dx", "")) for f in fields]
    labels = np.zeros((len(dx), len(names)), dtype=np.float32)
    for i, codes in enumerate(dx):
        for c in codes:
            if c in column:
                labels[i, column[c]] = 1.0
    ids = np.asarray(stored.record_ids)
    return finish_dataset(
        stored, config, name=name, keep=labels.sum(axis=1) > 0 if drop_unlabeled else None,
        labels=labels, classes=names, split=make_split(ids, labels, split_method), subset=split,
        record_info={"dx": np.array([",".join(d) for d in dx]),
                     "age": np.array([f.get("age", "") for f in fields]),
                     "sex": np.array([f.get("sex", "") for f in fields]),
                     "source": np.array([str(record_source(r)) for r in ids]),
                     "flat_leads": flat_leads_of(stored.comments),
                     "header_quirks": np.array([f.get("header quirks", "") for f in fields])},
        info={"root": str(path), "url": PHYSIONET2021_URL, "sources": sorted(wanted or []),
              "loaded_by_source": dict(sorted(Counter(str(record_source(r)) for r in ids).items())),
              "skip_summary": _report_sources(name, sources, stored.skipped),
              "class_abbreviations": [abbrevs.get(c, c) for c in names],
              "dx_mapping": _MAPPING_URL},
    )  # fmt: skip


def _report_sources(
    name: str, sources: Sequence[SourceRecord], skipped: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Skipped records per source and reason; warns when a source lost every record."""
    summary = summarize_skipped(skipped, lambda r: str(record_source(r)))
    found = Counter(str(record_source(s.record_id)) for s in sources)
    for source, reasons in summary.items():
        if sum(reasons.values()) == found.get(source, 0):
            _warn(
                f"{name}: every one of the {found[source]} records of source {source!r} was "
                f"skipped ({', '.join(f'{k}: {v}' for k, v in reasons.items())}); see "
                "dataset.info['skipped'] for each record's reason",
                UserWarning,
            )
    return summary


def _source_loader(source: str) -> Callable[..., ECGDataset]:
    def load(root: str | Path | None = None, **kwargs: object) -> ECGDataset:
        return load_physionet2021(root, source=source, name=source, **kwargs)  # type: ignore[arg-type]

    load.__name__ = f"load_{source}"
    load.__doc__ = (
        f"The {source!r} source of the PhysioNet/CinC Challenge 2021 data (record names "
        f"starting {PHYSIONET2021_SOURCES[source]!r}); arguments as for "
        ":func:`load_physionet2021`."
    )
    return load


for _source in ("georgia", "chapman", "ningbo", "ptb", "ptbxl_cinc", "incart", "cpsc2018_extra"):
    DATASETS.register(_source)(_source_loader(_source))
