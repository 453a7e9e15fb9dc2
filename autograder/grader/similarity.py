"""Pairs of learners whose answer cells are suspiciously alike, for the instructor to look
at: never a verdict (short exercises have few ways to be right). copydetect's winnowing
fingerprints over the answer cells only; the released starter code (signatures,
docstrings, `raise NotImplementedError()`) is boilerplate and does not count, and the
instructor's own solution is compared too (a leaked solution shows up as a pair with it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

SOLUTION = "(the instructor's solution)"
K, WINDOW = 8, 4          # tokens per fingerprint, winnowing window: answer cells are short


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    similarity: float      # the smaller of the two shares of copied tokens
    tokens: int            # overlapping tokens


def _fingerprint(name: str, code: str, boilerplate):
    from copydetect import CodeFingerprint
    return CodeFingerprint(f"{name}.py", K, WINDOW, boilerplate=boilerplate, fp=io.StringIO(code),
                           language="python")


def similar_pairs(answers: dict[str, str], starter: str, *, threshold: float = 0.8,
                  min_tokens: int = 40) -> list[Pair]:
    """Pairs with at least `threshold` of each side's answer tokens in common (and at least
    `min_tokens` of them), most similar first. `answers`: {learner: their answer cells}."""
    from copydetect import compare_files

    boilerplate = _fingerprint("starter", starter, None).hashes if starter.strip() else []
    prints = {}
    for who, code in answers.items():
        if code.strip():
            try:
                prints[who] = _fingerprint(who, code, boilerplate)
            except Exception:  # noqa: BLE001 - an answer that cannot be tokenised is skipped
                continue
    names = sorted(prints)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            tokens, (s1, s2), _ = compare_files(prints[a], prints[b])
            if tokens >= min_tokens and min(s1, s2) >= threshold:
                pairs.append(Pair(a, b, float(min(s1, s2)), int(tokens)))
    return sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))
