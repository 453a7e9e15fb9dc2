"""Seeded random inputs for checks.

Every value comes from one seeded CPU generator and is then moved to the device, so the
CPU and CUDA runs of a check see exactly the same numbers, and a rerun sees them again.
"""

from __future__ import annotations

import numpy as np
import torch


class Rand:
    """A seeded source of tensors and arrays for one check case."""

    def __init__(self, seed: int, device: str = "cpu"):
        self.seed = seed
        self.device = device
        self._gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape: int, dtype=torch.float32, requires_grad: bool = False,
              scale: float = 1.0) -> torch.Tensor:
        """Standard normal values (times `scale`) on this case's device."""
        t = torch.randn(*shape, generator=self._gen, dtype=torch.float64) * scale
        return t.to(device=self.device, dtype=dtype).requires_grad_(requires_grad)

    def uniform(self, *shape: int, low: float = 0.0, high: float = 1.0,
                dtype=torch.float32) -> torch.Tensor:
        t = torch.rand(*shape, generator=self._gen, dtype=torch.float64) * (high - low) + low
        return t.to(device=self.device, dtype=dtype)

    def randint(self, low: int, high: int, *shape: int) -> torch.Tensor:
        return torch.randint(low, high, shape, generator=self._gen).to(self.device)

    def array(self, *shape: int, scale: float = 1.0, dtype=np.float64) -> np.ndarray:
        """A numpy array of normal values (numpy exercises have no device)."""
        t = torch.randn(*shape, generator=self._gen, dtype=torch.float64) * scale
        return t.numpy().astype(dtype, copy=True)

    def array_away_from_zero(self, *shape: int, margin: float = 1e-3,
                             scale: float = 1.0) -> np.ndarray:
        """Normal values with |v| >= margin: keeps ReLU kinks away from finite differences."""
        a = self.array(*shape, scale=scale)
        return np.where(np.abs(a) < margin, np.copysign(margin, a), a)
