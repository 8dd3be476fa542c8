"""The fuzzy matcher on its own: which sample keys compete, and how the best is chosen."""

from __future__ import annotations

from skill.understanding.matcher import SampleMatcher

# Many samples with the common words, a few with the rarer "thing": a query with both must still reach the
# sample that has its common words, not only those that share its rarest word.
FILLER = ("help", "now", "again", "please")
COMMON = [f"letdown not {FILLER[n % 4]} {FILLER[n // 4 % 4]}" for n in range(400)]
COMMON += [f"will not letdown {FILLER[n % 4]}" for n in range(400)]
KEYS = ["thing garden shed roof", "thing kettle shelf", "whole thing", *COMMON, "will not letdown"]


def test_a_sample_sharing_only_common_words_still_competes() -> None:
    matcher = SampleMatcher(KEYS)
    match = matcher.best("bloodi thing will not letdown")
    assert match is not None and KEYS[match.index] == "will not letdown"


def test_excluded_samples_are_left_out() -> None:
    matcher = SampleMatcher(KEYS)
    best = KEYS.index("will not letdown")
    match = matcher.best("will not letdown", excluded=frozenset({best}))
    assert match is not None and match.index != best
    assert matcher.best("whole thing", excluded=frozenset(range(len(KEYS)))) is None


def test_an_unknown_word_is_read_as_the_closest_sample_word() -> None:
    matcher = SampleMatcher(["breast sore", "milk slow"])
    match = matcher.best("brest sore")
    assert match is not None and match.index == 0 and match.score > 0.8


def test_no_shared_word_is_no_match() -> None:
    assert SampleMatcher(["breast sore", "milk slow"]).best("zebra quantum") is None


def test_the_same_query_always_gets_the_same_sample() -> None:
    tied = [f"letdown help {n}" for n in range(50)]
    matcher = SampleMatcher(tied)
    assert len({matcher.best("letdown help").index for _ in range(5)}) == 1  # type: ignore[union-attr]
