import random

import pytest

from territory.dedupe.normalize import profile_of
from territory.dedupe.scoring import FieldWeights
from territory.dedupe.training import estimate_weights

from .conftest import make_record

SYLLABLES = "ka lo mi ra ve to shi an el or ben dal fen gor hal kor lin mar nor".split()


def test_em_learns_that_agreement_means_match_from_unlabelled_records():
    rng = random.Random(3)
    profiles = []
    for n in range(150):
        name = " ".join(
            "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() for _ in range(2)
        )
        city = rng.choice(["Boston", "Chicago", "Dallas", "Toronto"])
        phone = str(rng.randint(10**8, 10**9))
        copies = 2 if n % 2 else 1
        for c in range(copies):
            typo = name if c == 0 else name[:3] + name[4:]
            profile = profile_of(make_record("s", f"{n}-{c}", name=typo, city=city))
            profile.extra["phone"] = phone
            profiles.append(profile)
    start = FieldWeights(qualifier=0.0, extra_same=0.0, extra_different=0.0)
    weights = estimate_weights(profiles, start)
    assert weights.extra_same > 5  # phones agree between duplicates only
    assert weights.extra_different < 0
    assert weights.name_exact > weights.name_different
    assert weights.prior < 0
    assert weights.qualifier == 0.0  # structural rules are not estimated


def _profiles(seed: int = 3):
    rng = random.Random(seed)
    profiles = []
    for n in range(120):
        name = " ".join(
            "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() for _ in range(2)
        )
        city = rng.choice(["Boston", "Chicago", "Dallas", "Toronto"])
        for c in range(1 + n % 2):
            typo = name if c == 0 else name[:3] + name[4:]
            profiles.append(profile_of(make_record("s", f"{n}-{c}", name=typo, city=city)))
    return profiles


def test_em_is_reproducible_and_the_model_file_round_trips(tmp_path):
    from territory.dedupe.training import estimate_model, load_model, model_version, save_model

    first = estimate_model(_profiles(), FieldWeights(qualifier=0.0))
    again = estimate_model(list(reversed(_profiles())), FieldWeights(qualifier=0.0))
    assert first.weights == estimate_model(_profiles(), FieldWeights(qualifier=0.0)).weights
    assert first.version == model_version(first.weights)
    assert first.estimation is not None
    assert first.estimation.records == 180
    # The same set of records in another order is another EM path, but the same data.
    assert again.estimation is not None
    assert again.estimation.records_digest == first.estimation.records_digest
    path = tmp_path / "model.json"
    save_model(first, path)
    loaded = load_model(path)
    assert loaded.weights == first.weights
    assert loaded.version == first.version
    assert loaded.weights.name_exact > loaded.weights.name_different


def test_a_model_file_from_a_newer_engine_is_refused(tmp_path):
    from territory.dedupe.training import estimate_model, load_model, save_model

    model = estimate_model(_profiles()).model_copy(update={"format": 99})
    path = tmp_path / "model.json"
    save_model(model, path)
    with pytest.raises(ValueError, match="newer"):
        load_model(path)
