"""Real data sets streamed from disk: images decoded per batch, memory independent of the set's size.

The in-memory loaders (``registry.load_paired`` / ``load_unpaired``) suit the small sets and the
``cpu`` profiles; a ``gpu`` profile on edges2shoes (about 50,000 pairs at 256 px, some 78 GB as
float32) streams instead: a ``torch.utils.data.DataLoader`` over the extracted files, with
worker processes and pinned memory where CUDA is present, and the papers' jitter.

The official data pipeline (pytorch-CycleGAN-and-pix2pix, ``--preprocess resize_and_crop``):
resize to ``load_size`` (286) with bicubic interpolation, crop a random ``crop_size`` (256)
square, flip left-right with probability 1/2. Paired sets (``AlignedDataset``) apply the same
crop and flip to A and B; unpaired sets (``UnalignedDataset``) jitter each domain on its own,
take A in order and B at random, and count an epoch as ``max(|A|, |B|)`` images.

Every random choice (the epoch's order, each crop, flip and random B) is drawn from a generator
seeded by ``(seed, epoch, index)``, so a run resumed from a checkpoint (``state_dict``) sees the
same batches as one that never stopped, whatever the number of workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .folders import _load_rgb, _require_layout, _resize, list_images

PathLike = Union[str, os.PathLike]


def _generator(*keys: int) -> torch.Generator:
    seed = 0
    for k in keys:
        seed = (seed * 1_000_003 + int(k)) % (2**63)
    return torch.Generator().manual_seed(seed)


def _to_tensor(im) -> torch.Tensor:
    """PIL RGB image -> float (3, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)
    return x.float().div_(127.5).sub_(1.0)


def _jitter(im, load_size: int, crop_size: int, g: torch.Generator, params=None):
    """The official resize_and_crop + flip; ``params`` reuses a draw (A and B of one pair)."""
    im = _resize(im, load_size)
    if params is None:
        w, h = im.size
        x = int(torch.randint(0, max(0, w - crop_size) + 1, (1,), generator=g))
        y = int(torch.randint(0, max(0, h - crop_size) + 1, (1,), generator=g))
        params = (x, y, bool(torch.rand(1, generator=g) < 0.5))
    x, y, flip = params
    im = im.crop((x, y, x + crop_size, y + crop_size))
    if flip:
        from PIL import Image

        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return im, params


def _files(folder: Path, what: str, limit: Optional[int]) -> List[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no folder {folder} ({what}): download the data set first "
            "(ganlib.data.registry.download) or check the split's name"
        )
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(f"{folder} ({what}) holds no images")
    return files[:limit] if limit else files


class PairedImages(Dataset):
    """The pairs of ``folder/split`` (pix2pix layout, A | B side by side), decoded on access.

    An item, addressed ``(epoch, index)``, is ``(input, target)``: float ``(3, S, S)`` in
    [-1, 1], ``(A, B)`` for ``direction="AtoB"``. ``jitter=True``: resize to ``load_size``,
    the same random ``size`` crop and flip for both halves; otherwise resize to ``size``.
    """

    def __init__(
        self,
        folder: PathLike,
        split: str = "train",
        direction: str = "AtoB",
        size: int = 256,
        load_size: Optional[int] = None,
        jitter: bool = False,
        seed: int = 0,
        limit: Optional[int] = None,
    ):
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        folder = Path(folder)
        _require_layout(folder, "paired")
        self.files = _files(folder / split, f"split {split!r}", limit)
        self.direction, self.size, self.jitter, self.seed = direction, size, jitter, seed
        self.load_size = load_size or (size * 286 // 256 if jitter else size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        epoch, index = item
        path = self.files[index]
        try:
            im = _load_rgb(path)
        except Exception as e:
            raise OSError(f"{path}: cannot read this image ({e}); delete it or download the data set again") from e
        w, h = im.size
        a, b = im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, 2 * (w // 2), h))
        if self.jitter:
            g = _generator(self.seed, epoch, index)
            a, params = _jitter(a, self.load_size, self.size, g)
            b, _ = _jitter(b, self.load_size, self.size, g, params)
        else:
            a, b = _resize(a, self.size), _resize(b, self.size)
        a, b = _to_tensor(a), _to_tensor(b)
        return (a, b) if self.direction == "AtoB" else (b, a)


class UnpairedImages(Dataset):
    """The two domains ``folder/{split}A`` and ``{split}B`` (CycleGAN layout), decoded on access.

    An epoch has ``max(|A|, |B|)`` items; item ``(epoch, index)`` is ``(x, y)`` with x the
    ``index % |A|``-th image of A and y a random image of B, each jittered on its own.
    """

    def __init__(
        self,
        folder: PathLike,
        split: str = "train",
        size: int = 256,
        load_size: Optional[int] = None,
        jitter: bool = False,
        seed: int = 0,
        limit: Optional[int] = None,
    ):
        folder = Path(folder)
        _require_layout(folder, "unpaired")
        self.a = _files(folder / f"{split}A", "domain A", limit)
        self.b = _files(folder / f"{split}B", "domain B", limit)
        self.size, self.jitter, self.seed = size, jitter, seed
        self.load_size = load_size or (size * 286 // 256 if jitter else size)

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def _image(self, path: Path, g: torch.Generator) -> torch.Tensor:
        try:
            im = _load_rgb(path)
        except Exception as e:
            raise OSError(f"{path}: cannot read this image ({e}); delete it or download the data set again") from e
        im = _jitter(im, self.load_size, self.size, g)[0] if self.jitter else _resize(im, self.size)
        return _to_tensor(im)

    def __getitem__(self, item: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        epoch, index = item
        g = _generator(self.seed, epoch, index)
        j = int(torch.randint(0, len(self.b), (1,), generator=g))
        return self._image(self.a[index % len(self.a)], g), self._image(self.b[j], g)


class StreamingBatches:
    """An endless, resumable iterator of batches from a dataset addressed by ``(epoch, index)``.

    Each epoch visits the items in a seeded random order (``shuffle=False``: in order), in
    batches of ``batch_size``; a last, smaller batch is dropped, so every batch has the same
    size. ``workers`` decode in parallel (default: 4 where CUDA
    is present, else 0, i.e. in this process); memory holds a few batches, never the data set.
    ``state_dict`` / ``load_state_dict`` let ``ganlib.train.fit`` checkpoint the position.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        workers: Optional[int] = None,
        device: Optional[Union[str, torch.device]] = None,
    ):
        if batch_size < 1 or batch_size > len(dataset):
            raise ValueError(f"batch_size must be between 1 and the data set's {len(dataset)} items, got {batch_size}")
        self.dataset, self.batch_size, self.seed, self.shuffle = dataset, batch_size, seed, shuffle
        cuda = torch.cuda.is_available()
        self.workers = (4 if cuda else 0) if workers is None else workers
        self.device = torch.device(device) if device is not None else None
        self.pin = cuda and (self.device is None or self.device.type == "cuda")
        self.epoch, self.position, self._it = 0, 0, None

    def __len__(self) -> int:
        """Batches per epoch."""
        return len(self.dataset) // self.batch_size

    def __iter__(self):
        return self

    def _order(self) -> Sequence[Tuple[int, int]]:
        n = len(self.dataset)
        idx = torch.randperm(n, generator=_generator(self.seed, self.epoch)) if self.shuffle else torch.arange(n)
        idx = idx[: len(self) * self.batch_size][self.position * self.batch_size :]
        return [(self.epoch, int(i)) for i in idx]

    def _start(self) -> None:
        self._it = iter(
            DataLoader(
                self.dataset,
                batch_size=self.batch_size,
                sampler=self._order(),
                num_workers=self.workers,
                pin_memory=self.pin,
                drop_last=True,
            )
        )

    def __next__(self) -> Tuple[torch.Tensor, ...]:
        if self._it is None:
            self._start()
        try:
            batch = next(self._it)
        except StopIteration:
            self.epoch, self.position = self.epoch + 1, 0
            self._start()
            batch = next(self._it)
        self.position += 1
        if self.device is not None:
            batch = tuple(t.to(self.device, non_blocking=self.pin) for t in batch)
        return tuple(batch)

    def state_dict(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        if int(state["seed"]) != self.seed:
            raise ValueError(f"this checkpoint's data order was seeded {state['seed']}, these batches {self.seed}")
        self.epoch, self.position, self._it = int(state["epoch"]), int(state["position"]), None
