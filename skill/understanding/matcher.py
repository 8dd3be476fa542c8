"""Fuzzy matching of a normalised query key against every sample key: the resolver's second stage.

Two signals, blended: rapidfuzz's token-set and token-sort ratios (order-free, typo-tolerant string
similarity, in C++) and the inverse-document-frequency-weighted share of words in common, so that the
rare words that tell intents apart ("tingle", "flange") outweigh the ones every sample has ("milk",
"when"). An inverted index keeps the work per request to the samples that share a word with the query,
and a query word the samples never use is first mapped to its closest sample word (rapidfuzz again), so
"brest" still meets "breast".
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from rapidfuzz import fuzz, process

CANDIDATES = 40
# How many samples get a word-overlap score (those sharing the query's rarest words).
MAX_CANDIDATES = 300
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
        self._postings: Mapping[str, tuple[int, ...]] = MappingProxyType({t: tuple(p) for t, p in postings.items()})
        self._masses = tuple(sum(self._weights[t] for t in tokens) for tokens in self._tokens)
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
        # Candidates: the samples sharing the query's rarest words, rarest first, until there are enough;
        # common words ("milk") then only count in the candidates' scores.
        candidates: set[int] = set()
        for token in sorted(known, key=lambda token: len(self._postings[token])):
            if candidates and len(candidates) + len(self._postings[token]) > MAX_CANDIDATES:
                break
            candidates.update(self._postings[token])
        candidates -= excluded
        if not candidates:
            return None
        query_tokens = frozenset(known)
        query_mass = sum(self.weight(token) for token in tokens)
        weights = self._weights
        overlap = {
            index: 2 * sum(weights[t] for t in query_tokens & self._tokens[index]) / (query_mass + self._masses[index])
            for index in candidates
        }
        shortlist = heapq.nlargest(CANDIDATES, overlap, key=overlap.__getitem__)
        query = " ".join(tokens)
        scored = (Match(index, self._blend(query, index, overlap[index])) for index in shortlist)
        return max(scored, key=lambda match: match.score)

    def _blend(self, query: str, index: int, overlap: float) -> float:
        return STRING_WEIGHT * string_similarity(query, self.keys[index]) + (1 - STRING_WEIGHT) * overlap


def string_similarity(query_key: str, sample_key: str) -> float:
    """0..1: how well each covers the other (token set) and the whole (token sort), order-free."""
    covered = fuzz.token_set_ratio(query_key, sample_key)
    whole = fuzz.token_sort_ratio(query_key, sample_key)
    return (covered + whole) / 200
