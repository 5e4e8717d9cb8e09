"""Quality measures against ground truth: of a clustering (pairwise and cluster-level) and
of the blocking (pair completeness)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from territory.dedupe.index import CandidateIndex, IndexSettings
from territory.dedupe.normalize import Profile


class Quality(BaseModel):
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    cluster_precision: float
    cluster_recall: float
    cluster_f1: float


def _pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for group in groups:
        out.update(itertools.combinations(sorted(group), 2))
    return out


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def clusters_of(assignment: Mapping[str, str]) -> list[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for item, cluster in assignment.items():
        groups[cluster].add(item)
    return [frozenset(g) for g in groups.values()]


def measure(
    predicted: Mapping[str, str],
    truth: Mapping[str, str],
    datasets: Mapping[str, str] | None = None,
) -> Quality:
    """`predicted` and `truth` map each item to its cluster id; only items in both count.

    Pairwise: precision/recall over all pairs put together; for a link task, `datasets`
    names each item's data set and only pairs across data sets count. Cluster-level: a
    predicted cluster counts when it equals a true cluster exactly (singletons included)."""
    items = predicted.keys() & truth.keys()
    pred = clusters_of({k: predicted[k] for k in items})
    true = clusters_of({k: truth[k] for k in items})
    pred_pairs, true_pairs = _pairs(pred), _pairs(true)
    if datasets is not None:
        pred_pairs = {(a, b) for a, b in pred_pairs if datasets[a] != datasets[b]}
        true_pairs = {(a, b) for a, b in true_pairs if datasets[a] != datasets[b]}
    tp = len(pred_pairs & true_pairs)
    precision = tp / len(pred_pairs) if pred_pairs else 1.0
    recall = tp / len(true_pairs) if true_pairs else 1.0
    exact = len(set(pred) & set(true))
    cp = exact / len(pred) if pred else 1.0
    cr = exact / len(true) if true else 1.0
    return Quality(
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        true_pairs=len(true_pairs),
        predicted_pairs=len(pred_pairs),
        cluster_precision=cp,
        cluster_recall=cr,
        cluster_f1=_f1(cp, cr),
    )


def pair_completeness(
    profiles: Iterable[Profile],
    truth: Mapping[str, str],
    settings: IndexSettings | None = None,
    datasets: Mapping[str, str] | None = None,
) -> tuple[float, int]:
    """Blocking recall: of the true pairs, the share whose earlier record is among the later
    one's candidates when it arrives (records in arrival order, as the service sees them).
    Returns (recall, true pairs). With `datasets`, only pairs across data sets count."""
    index = CandidateIndex(settings)
    earlier: dict[str, list[str]] = defaultdict(list)
    found = total = 0
    for profile in profiles:
        key = profile.source_key
        entity = truth.get(key)
        if entity is None:
            continue
        mates = [k for k in earlier[entity] if datasets is None or datasets[k] != datasets[key]]
        if mates:
            candidates = set(index.candidates(profile))
            total += len(mates)
            found += sum(k in candidates for k in mates)
        index.add(profile)
        earlier[entity].append(key)
    return (found / total if total else 1.0), total
