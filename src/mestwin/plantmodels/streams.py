"""Independent random streams, one per entity, from one seed per run.

One :class:`numpy.random.SeedSequence` per run is spawned into one child per entity in a
fixed order (the order the scenario declares them), so adding randomness to one entity never
changes another's variates and the same seed always gives the same event log.
"""

from __future__ import annotations

import numpy as np


class RandomStreams:
    """Hands out one independent :class:`numpy.random.Generator` per named entity.

    *entities* fixes the spawn order; asking for a name not in it raises ``KeyError`` so
    that a forgotten entity cannot silently share a stream.
    """

    def __init__(self, seed: int, entities: list[str]) -> None:
        if len(set(entities)) != len(entities):
            raise ValueError("entity names must be unique")
        self.seed = seed
        children = np.random.SeedSequence(seed).spawn(len(entities))
        self._children = dict(zip(entities, children, strict=True))

    def generator(self, entity: str, purpose: int = 0) -> np.random.Generator:
        """Return the stream number *purpose* of *entity* (e.g. 0 process, 1 failures)."""
        child = self._children[entity]
        seq = np.random.SeedSequence(child.entropy, spawn_key=(*child.spawn_key, purpose))
        return np.random.Generator(np.random.PCG64(seq))
