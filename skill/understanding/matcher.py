"""Fuzzy matching of a normalised query key against every sample key: the resolver's second stage.

Two signals, blended: rapidfuzz's token-set and token-sort ratios (order-free, typo-tolerant string
similarity, in C++) and the inverse-document-frequency-weighted share of words in common, so that the
rare words that tell intents apart ("tingle", "flange") outweigh the ones every sample has ("milk",
"when"). The word overlap is scored for every sample that shares a word with the query, with numpy over an
inverted index (one vectorised add per query word), so that a sample sharing only common words ("will not
let down") still competes; the string similarity, the costlier signal, only for the best by overlap. A query
word the samples never use is first mapped to its closest sample word (rapidfuzz again), so "brest" still
meets "breast".
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from rapidfuzz import fuzz, process

# How many samples, the best by word overlap, get the string similarity too (20, 40 and 80 scored the same on
# the development sets).
CANDIDATES = 20
STRING_WEIGHT = 0.5  # the rest is the weighted word overlap
MIN_WORD_SIMILARITY = 84  # rapidfuzz ratio for mapping an unknown query word to a known one
MIN_WORD_LENGTH_FOR_TYPOS = 4


@dataclass(frozen=True)
class Match:
    index: int
    score: float  # 0..1


class SampleMatcher:
    """Built once from the sample keys; `best(query_key)` is pure and allocation-light."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self._tokens = tuple(frozenset(key.split()) for key in self.keys)
        frequency = Counter(token for tokens in self._tokens for token in tokens)
        total = max(len(self.keys), 1)
        self._weights: Mapping[str, float] = MappingProxyType(
            {token: math.log(1 + total / count) for token, count in frequency.items()}
        )
        self._unknown_weight = math.log(1 + total)
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for index, tokens in enumerate(self._tokens):
            for token in tokens:
                postings[token].append(index)
        self._postings: Mapping[str, np.ndarray] = MappingProxyType(
            {token: np.array(indexes, dtype=np.intp) for token, indexes in postings.items()}
        )
        self._masses = np.array([sum(self._weights[t] for t in tokens) for tokens in self._tokens], dtype=float)
        self._vocabulary = tuple(sorted(self._weights))

    def weight(self, token: str) -> float:
        return self._weights.get(token, self._unknown_weight)

    def known_tokens(self, query_key: str) -> list[str]:
        """The query's words, each unknown one replaced by the closest sample word when one is close."""
        tokens = []
        for token in dict.fromkeys(query_key.split()):
            if token not in self._weights and len(token) >= MIN_WORD_LENGTH_FOR_TYPOS:
                closest = process.extractOne(
                    token, self._vocabulary, scorer=fuzz.ratio, score_cutoff=MIN_WORD_SIMILARITY
                )
                if closest is not None:
                    token = closest[0]
            tokens.append(token)
        return tokens

    def best(self, query_key: str, excluded: frozenset[int] = frozenset()) -> Match | None:
        """The best-scoring sample for the key, leaving out the `excluded` sample indexes."""
        tokens = self.known_tokens(query_key)
        known = [token for token in tokens if token in self._postings]
        if not known:
            return None
        shared = np.zeros(len(self.keys))  # each sample's weight of the query words it has
        for token in dict.fromkeys(known):  # a typo may have become a word the query already has
            shared[self._postings[token]] += self._weights[token]
        if excluded:
            shared[np.fromiter(excluded, dtype=np.intp, count=len(excluded))] = 0.0
        candidates = np.flatnonzero(shared)
        if candidates.size == 0:
            return None
        query_mass = sum(self.weight(token) for token in tokens)
        overlap = 2 * shared[candidates] / (query_mass + self._masses[candidates])
        if candidates.size > CANDIDATES:
            best_overlap = np.argpartition(-overlap, CANDIDATES - 1)[:CANDIDATES]
            candidates, overlap = candidates[best_overlap], overlap[best_overlap]
        query = " ".join(tokens)
        scored = (
            Match(int(index), self._blend(query, int(index), float(score)))
            for index, score in sorted(zip(candidates, overlap, strict=True), key=lambda pair: (-pair[1], pair[0]))
        )
        return max(scored, key=lambda match: match.score)

    def _blend(self, query: str, index: int, overlap: float) -> float:
        return STRING_WEIGHT * string_similarity(query, self.keys[index]) + (1 - STRING_WEIGHT) * overlap


def string_similarity(query_key: str, sample_key: str) -> float:
    """0..1: how well each covers the other (token set) and the whole (token sort), order-free."""
    covered = fuzz.token_set_ratio(query_key, sample_key)
    whole = fuzz.token_sort_ratio(query_key, sample_key)
    return (covered + whole) / 200
