import random

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
