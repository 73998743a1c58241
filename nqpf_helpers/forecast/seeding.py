"""Seeds and initial weights: a network's start depends only on (seed, unit id).

A growth path must not change when other units are added to, removed from or
reordered in the panel.  Each network's initial weights therefore come from a
:class:`numpy.random.SeedSequence` built from two things only: the integer
seed of the ensemble member and a stable hash of the unit's identifier
(SHA-256 of its string form, the same in every Python process, unlike
``hash()``).  The position of the unit in the panel plays no part.

This module imports only numpy.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from nqpf_helpers.errors import InputError

__all__ = ["check_seeds", "init_weights", "network_seed", "unit_key"]


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def check_seeds(seeds: int, seed: int) -> tuple[int, int]:
    """Check an ensemble size and a base seed.

    Parameters
    ----------
    seeds
        Number of networks per unit (ensemble members), an integer >= 1.
    seed
        Base seed, an integer >= 0; member ``k`` uses seed ``seed + k``.

    Returns
    -------
    seeds, seed
        As Python ints.

    Raises
    ------
    InputError
        Non-integer, boolean or out-of-range values, with the fix.
    """
    if not _is_int(seeds) or seeds < 1:
        hint = (
            " (seeds is now the number of networks; pass seed= for the first one)"
            if not _is_int(seeds)
            else ""
        )
        raise InputError(
            f"seeds must be a whole number >= 1 (how many networks per unit), got {seeds!r}{hint}. "
            "Use e.g. seeds=20."
        )
    if not _is_int(seed) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0 (the base seed), got {seed!r}. Use e.g. seed=0.")
    return int(seeds), int(seed)


def unit_key(unit: object) -> tuple[int, ...]:
    """A stable 128-bit key of a unit identifier: four 32-bit words of SHA-256(str(unit)).

    ``str`` makes ``11`` and ``"11"`` the same unit, as in a CSV; it is the
    same in every Python process and on every platform.
    """
    digest = hashlib.sha256(str(unit).encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def network_seed(seed: int, unit: object) -> np.random.SeedSequence:
    """The seed sequence of the network of ``unit`` under integer ``seed``.

    Examples
    --------
    >>> a = np.random.default_rng(network_seed(0, "110000")).random()
    >>> b = np.random.default_rng(network_seed(0, 110000)).random()
    >>> a == b
    True
    """
    _, seed = check_seeds(1, seed)
    return np.random.SeedSequence(entropy=seed, spawn_key=unit_key(unit))


def init_weights(
    units: Sequence[object], n_features: int, hidden: int = 10, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Initial weights of one network per unit, each drawn from (``seed``, unit id) only.

    Uses the initialisers shared by MATLAB's ``lstmLayer`` and Keras' ``LSTM``:
    Glorot-uniform input kernel, orthogonal recurrent kernel, zero bias with
    the forget-gate bias at one, Glorot-uniform dense kernel, zero dense bias.
    A unit's draw depends on its identifier and ``seed``, not on its position
    or on the other units, so a region's initial network is the same in any
    panel.

    Parameters
    ----------
    units
        Unit identifiers (e.g. region codes), one network each.
    n_features, hidden
        Input features per time step, LSTM width.
    seed
        Integer seed >= 0.

    Returns
    -------
    dict
        ``kernel (N, F, 4H)``, ``recurrent_kernel (N, H, 4H)``, ``bias (N, 4H)``,
        ``dense_kernel (N, H, 1)``, ``dense_bias (N, 1)``; gate order i, f, c, o
        as in Keras.
    """
    units = list(units)
    _, seed = check_seeds(1, seed)
    N, H, F = len(units), int(hidden), int(n_features)
    k_lim = math.sqrt(6.0 / (F + 4 * H))
    d_lim = math.sqrt(6.0 / (H + 1))
    out = {
        "kernel": np.empty((N, F, 4 * H)),
        "recurrent_kernel": np.empty((N, H, 4 * H)),
        "bias": np.zeros((N, 4 * H)),
        "dense_kernel": np.empty((N, H, 1)),
        "dense_bias": np.zeros((N, 1)),
    }
    out["bias"][:, H : 2 * H] = 1.0
    for n, u in enumerate(units):
        rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=unit_key(u)))
        out["kernel"][n] = rng.uniform(-k_lim, k_lim, size=(F, 4 * H))
        # orthogonal rows, made unique by fixing the signs of R's diagonal
        q, r = np.linalg.qr(rng.standard_normal((4 * H, H)))
        q = q * np.sign(np.diag(r))
        out["recurrent_kernel"][n] = q.T
        out["dense_kernel"][n] = rng.uniform(-d_lim, d_lim, size=(H, 1))
    return out


def stack_weights(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate weight dicts along the unit axis (e.g. one per ensemble member)."""
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}
