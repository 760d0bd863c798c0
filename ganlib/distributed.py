r"""Training that scales out: DistributedDataParallel (DDP) helpers and a ``torchrun`` entry point.

Run the chapter-6 model on N processes (CPU: gloo; GPU: NCCL, one GPU per process)::

    torchrun --nproc_per_node=2 -m ganlib.distributed --profile ci --steps 20 --out runs/biggan_ddp

What changes under DDP, and why:

- **Data**: rank ``r`` of ``W`` trains on its own shard ``x[r::W]`` with its own seed, so the
  global batch is ``W * batch_size`` distinct images per D step.
- **Gradients**: G and D are wrapped in ``DistributedDataParallel``; after each backward the
  gradients are averaged over ranks (all-reduce), so every rank takes the same optimiser step
  and the weights stay identical (checked at the end of :func:`main`).
  In G's step, D is called *unwrapped*: D is not updated there and must not wait for a
  gradient all-reduce that never comes.
- **Batch norm** (only G has it): on GPU we use ``SyncBatchNorm``, the "cross-replica batch
  norm" of BigGAN: the statistics are those of the global batch, so a model trained on N GPUs
  of batch B normalises like one trained with batch N*B and G's output does not depend on how
  the batch is split. On CPU PyTorch's ``SyncBatchNorm`` is not available (it is GPU-only), so
  each rank normalises with its own batch statistics (per-rank BN); the running statistics
  of rank 0 are broadcast to the others at each forward (DDP's ``broadcast_buffers``).
- **Files**: only rank 0 writes checkpoints, samples and the summary; the checkpoint holds the
  *unwrapped* modules, so it loads into an ordinary single-process model (and resumes a DDP
  run with :func:`ganlib.train.fit`'s checkpoint).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "init_distributed",
    "cleanup",
    "is_main_process",
    "shard",
    "wrap_ddp",
    "max_rank_difference",
    "broadcast_buffers",
    "main",
]


def init_distributed(backend: Optional[str] = None) -> Tuple[int, int, torch.device]:
    """``(rank, world_size, device)``; joins the process group when started by ``torchrun``.

    Without ``torchrun`` (no ``RANK`` in the environment) it returns ``(0, 1, device)`` and the
    same code runs as a single process. Backend: NCCL with CUDA, else gloo.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if cuda else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return rank, world, device


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the only rank that writes files."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def shard(*tensors: torch.Tensor, rank: int, world_size: int) -> Tuple[torch.Tensor, ...]:
    """Rank ``rank``'s shard ``t[rank::world_size]`` of each tensor (disjoint, together all items)."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    if len(tensors[0]) < world_size:
        raise ValueError(f"{len(tensors[0])} items cannot be shared among {world_size} ranks")
    return tuple(t[rank::world_size] for t in tensors)


def wrap_ddp(module: nn.Module, device: torch.device, sync_bn: Optional[bool] = None) -> nn.Module:
    """``DistributedDataParallel(module)``; with ``sync_bn`` (default: on GPU) BN becomes SyncBatchNorm.

    Returns the module unchanged when no process group is running (a single process).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return module
    sync_bn = device.type == "cuda" if sync_bn is None else sync_bn
    if sync_bn and device.type != "cuda":
        raise ValueError("SyncBatchNorm needs GPUs; on CPU use per-rank batch norm (sync_bn=False)")
    if sync_bn:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def _flat_state(modules: Dict[str, nn.Module]) -> torch.Tensor:
    return torch.cat(
        [
            v.detach().double().flatten().cpu()
            for m in modules.values()
            for v in m.state_dict().values()
            if v.is_floating_point()
        ]
    )


def broadcast_buffers(modules: Dict[str, nn.Module], src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BN running statistics, spectral-norm vectors) to every rank."""
    if dist.is_available() and dist.is_initialized():
        for m in modules.values():
            for b in m.buffers():
                dist.broadcast(b.data, src)


def max_rank_difference(modules: Dict[str, nn.Module]) -> float:
    """Largest absolute difference of any weight/buffer between this rank and rank 0 (0.0 alone)."""
    flat = _flat_state(modules)
    if not (dist.is_available() and dist.is_initialized()):
        return 0.0
    device = next(iter(modules.values())).parameters().__next__().device
    local = flat.to(device)
    ref = local.clone()
    dist.broadcast(ref, 0)
    diff = (local - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff)


# --------------------------------------------------------------------------- entry point


def _config(profile: str, dataset: str):
    """The chapter's model for ``profile`` (:func:`ganlib.models.biggan.chapter_config`, the notebook's),
    on ``dataset``: ``cifar10`` is BigGAN's CIFAR-10 recipe on every profile, and ``digits`` on the
    gpu profile is that recipe on the 32x32 digits (one channel)."""
    from .models.biggan import chapter_config, cifar10_config

    if dataset == "cifar10":
        return cifar10_config()
    cfg = chapter_config(profile)
    if cfg.dataset != dataset:
        cfg = dataclasses.replace(cfg, dataset=dataset, image_channels=1)
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Train the chapter-6 model, under ``torchrun`` or alone; return (and on rank 0 write) a summary."""
    from . import get_profile, override, seed_everything
    from .data.batches import TensorBatches
    from .models.biggan import build_biggan, checkpoint_config, make_optimizers, make_train_step, sample
    from .train import History, fit, load_checkpoint

    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node=N -m ganlib.distributed",
        description="Train the chapter-6 BigGAN-style model with DDP.",
    )
    p.add_argument("--profile", default=None, help="ci, cpu or gpu (default: GANLIB_PROFILE or automatic)")
    p.add_argument("--dataset", default="digits", choices=["digits", "cifar10"])
    p.add_argument("--steps", type=int, default=None, help="G steps (default: the profile's)")
    p.add_argument("--batch-size", type=int, default=None, help="images per D step and rank")
    p.add_argument("--out", default="runs/biggan_ddp", help="folder for checkpoint, samples, summary (rank 0)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sync-bn", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--data-root", default="data")
    args = p.parse_args(argv)

    rank, world, device = init_distributed()
    try:
        cfg = _config(get_profile(args.profile), args.dataset)
        changes = {
            k: v for k, v in dict(steps=args.steps, batch_size=args.batch_size, seed=args.seed).items() if v is not None
        }
        cfg = override(cfg, **changes)
        from .data import registry  # the bundled digits, or a real data set (downloaded on first use)

        x, y = registry.load_labelled(args.dataset, train=True, size=cfg.image_size, root=args.data_root)
        x, y = shard(x, y, rank=rank, world_size=world)

        seed_everything(cfg.seed)  # same initial weights on every rank
        G, D, _ = build_biggan(cfg, device)
        sync_bn = {"auto": None, "on": True, "off": False}[args.sync_bn]
        G_ddp, D_ddp = wrap_ddp(G, device, sync_bn), wrap_ddp(D, device, sync_bn=False)  # D has no BN
        G = G_ddp.module if G_ddp is not G else G  # SyncBatchNorm conversion makes a new module
        from .nn import EMA

        G_ema = EMA(G, cfg.ema_decay, cfg.ema_start) if cfg.ema else None
        opt_g, opt_d = make_optimizers(cfg, G, D)
        seed_everything(cfg.seed + 1000 * rank)  # but different noise on every rank
        batches = TensorBatches(x, y, batch_size=cfg.d_steps * cfg.batch_size, seed=cfg.seed + rank, device=device)
        step_fn = make_train_step(cfg, G_ddp, D_ddp, opt_g, opt_d, G_ema, device, G_module=G, D_module=D)
        modules = {"G": G, "D": D, **({"G_ema": G_ema} if G_ema is not None else {})}
        optimizers = {"G": opt_g, "D": opt_d}
        out = Path(args.out)
        ckpt = out / "checkpoint.pt"
        history, steps = History(), cfg.steps
        if rank != 0 and ckpt.exists():  # resume: every rank reads, only rank 0 writes
            state = load_checkpoint(
                ckpt,
                modules=modules,
                optimizers=optimizers,
                history=history,
                config=checkpoint_config(cfg),
                restore_rng=False,
            )
            steps = cfg.steps - state["step"]
            history = History()
        if world > 1:
            dist.barrier()
        history = fit(
            step_fn,
            batches,
            steps,
            modules=modules,
            optimizers=optimizers,
            checkpoint=ckpt if rank == 0 else None,
            checkpoint_every=args.checkpoint_every,
            config=checkpoint_config(cfg),
            progress=rank == 0,
            desc=f"BigGAN DDP x{world}",
            history=history,
        )
        broadcast_buffers(modules)  # per-rank BN statistics: keep rank 0's
        diff = max_rank_difference(modules)
        summary = {
            "world_size": world,
            "backend": dist.get_backend() if world > 1 else None,
            "sync_bn": bool(device.type == "cuda" if sync_bn is None else sync_bn),
            "steps": cfg.steps,
            "max_rank_difference": diff,
            "param_sum_G": float(sum(p.detach().double().sum() for p in G.parameters())),
            "images_per_rank": len(x),
            "device": str(device),
        }
        if is_main_process():
            out.mkdir(parents=True, exist_ok=True)
            from torchvision.utils import save_image

            labels = torch.arange(cfg.num_classes).repeat_interleave(8)
            images = sample(G_ema if G_ema is not None else G, labels, generator=torch.Generator().manual_seed(0))
            save_image(images * 0.5 + 0.5, out / "samples.png", nrow=8)
            (out / "summary.json").write_text(json.dumps(summary, indent=2))
            print(
                f"rank 0: {world} rank(s), weights identical across ranks: {diff == 0.0} "
                f"(max difference {diff:.3g}); wrote {out}/checkpoint.pt, samples.png, summary.json"
            )
        return summary
    finally:
        cleanup()


if __name__ == "__main__":
    main()
