"""In-memory mini-batches: small data sets need no DataLoader workers.

``TensorBatches`` draws shuffled mini-batches from tensors that already sit in
memory (or on the GPU), forever. Its state (RNG and position) is part of a
checkpoint, so a resumed run sees exactly the batches an uninterrupted run sees.
"""

from __future__ import annotations

from typing import Dict, Iterator, Optional, Tuple, Union

import torch


class TensorBatches:
    """Endless shuffled mini-batches of ``tensors`` (all with the same first dimension).

    >>> x = torch.arange(10.0); batches = TensorBatches(x, batch_size=4, seed=0)
    >>> next(iter(batches))[0].shape
    torch.Size([4])
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        device: Optional[Union[str, torch.device]] = None,
    ):
        if not tensors:
            raise ValueError("TensorBatches needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"all tensors need the same length; got {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and batch_size > n:
            raise ValueError(
                f"batch_size {batch_size} is larger than the data set ({n} items); "
                "lower batch_size or pass drop_last=False"
            )
        self.tensors = tuple(t.to(device) if device is not None else t for t in tensors)
        self.batch_size, self.shuffle, self.drop_last, self.n = batch_size, shuffle, drop_last, n
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self._order = self._new_order()

    def _new_order(self) -> torch.Tensor:
        if self.shuffle:
            return torch.randperm(self.n, generator=self.generator)
        return torch.arange(self.n)

    def __len__(self) -> int:
        """Batches per epoch."""
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, ...]]:
        return self

    def __next__(self) -> Tuple[torch.Tensor, ...]:
        end = self.position + self.batch_size
        if end > self.n and (self.drop_last or self.position >= self.n):
            self.epoch += 1
            self.position, end = 0, self.batch_size
            self._order = self._new_order()
        idx = self._order[self.position : min(end, self.n)]
        self.position = end
        return tuple(t[idx.to(t.device)] for t in self.tensors)

    def state_dict(self) -> Dict[str, object]:
        return {
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "position": self.position,
            "order": self._order.clone(),
        }

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.generator.set_state(state["generator"])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = state["order"].clone()
