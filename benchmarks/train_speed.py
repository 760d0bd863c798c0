"""Training throughput: each chapter's model, sequential runs with all threads vs side by side.

For every model (the chapters' `cpu` sizes, and the official architectures where there are
some) it times training steps in two ways that do the same work:

- sequential: ``RUNS`` runs one after another in this process with ``--threads`` CPU threads;
- parallel:   the same ``RUNS`` runs through ``ganlib.runs.run_all`` (one thread per worker
  process, ``--workers`` side by side), timed from submission to the last result, so process
  start-up and imports are included.

It prints steps per second of one run and of all runs together, and the parallel speed-up.
Data are random tensors of the chapter's shapes: throughput does not depend on their content.

    .venv/bin/python benchmarks/train_speed.py               # all models (a few minutes on 2 cores)
    .venv/bin/python benchmarks/train_speed.py --only pix2pix_cpu cyclegan_cpu

Measure on an idle machine: the numbers are wall-clock throughput.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from ganlib.runs import Run, run_all


def _adam(net, lr=2e-4):
    return torch.optim.Adam(net.parameters(), lr, betas=(0.5, 0.999))


def _build(name: str):
    """(step_fn, batch) for the model called ``name``, at its chapter's size."""
    from ganlib.models import acgan, cgan, mlp_gan

    if name == "intro_mlp_gan":  # chapter 0: MLP GAN on the 2-D ring, batch 256
        G, D = mlp_gan.MLPGenerator(8, 2, 128), mlp_gan.MLPDiscriminator(2, 128)
        og, od = _adam(G, 1e-3), _adam(D, 1e-3)
        return (lambda b: mlp_gan.gan_step(G, D, og, od, b[0])), (torch.randn(256, 2),)
    if name in ("cgan_conv", "acgan_conv"):  # chapters 1-2: conv G, 16 px digits, batch 64
        G = cgan.ConvConditionalGenerator()
        D = cgan.ProjectionDiscriminator() if name == "cgan_conv" else acgan.ConvACGANDiscriminator()
        step = cgan.cgan_step if name == "cgan_conv" else acgan.acgan_step
        og, od = _adam(G), _adam(D)
        batch = (torch.rand(64, 1, 16, 16) * 2 - 1, torch.randint(0, 10, (64,)))
        return (lambda b: step(G, D, og, od, *b)), batch
    if name.startswith("pix2pix"):
        from ganlib.models.pix2pix import Pix2Pix, Pix2PixConfig

        cfg, size, n = {
            "pix2pix_cpu": (Pix2PixConfig(num_downs=6, ngf=16, ndf=16, lr=5e-4), 64, 8),
            "pix2pix_unet_128": (Pix2PixConfig(num_downs=7), 128, 1),
            "pix2pix_unet_256": (Pix2PixConfig(), 256, 1),
        }[name]
        model = Pix2Pix(cfg)
        return model.step, (torch.rand(n, 3, size, size) * 2 - 1, torch.rand(n, 3, size, size) * 2 - 1)
    if name.startswith("cyclegan"):
        from ganlib.models.cyclegan import CycleGAN, CycleGANConfig

        cfg, size, n = {
            "cyclegan_cpu": (CycleGANConfig(ngf=8, ndf=8, n_blocks=3, n_layers_d=2), 32, 8),
            "cyclegan_resnet_9blocks": (CycleGANConfig(), 256, 1),
        }[name]
        model = CycleGAN(cfg)
        return model.step, (torch.rand(n, 3, size, size) * 2 - 1, torch.rand(n, 3, size, size) * 2 - 1)
    if name == "bicyclegan_cpu":  # chapter 5 toy scale, 32 px, batch 16
        from ganlib.models.bicyclegan import BicycleGAN, BicycleGANConfig

        fast = {"where_add": "input"} if "where_add" in BicycleGANConfig.__dataclass_fields__ else {}
        model = BicycleGAN(
            BicycleGANConfig(
                ngf=16, ndf=16, nef=16, num_downs=5, n_blocks_e=3, n_layers_d=2, lr=1e-3, init_gain=1.0, **fast
            )
        )
        return model.step, (torch.rand(16, 3, 32, 32) * 2 - 1, torch.rand(16, 3, 32, 32) * 2 - 1)
    if name == "biggan_cpu":  # chapter 6: 16 px digits, width 32, batch 32
        from ganlib.models.biggan import BigGANConfig, build_biggan, make_optimizers, make_train_step

        cfg = BigGANConfig(
            steps=600, g_width=32, d_width=32, batch_size=32, d_steps=1, lr_g=3e-4, lr_d=9e-4, ema_decay=0.99
        )
        G, D, G_ema = build_biggan(cfg)
        og, od = make_optimizers(cfg, G, D)
        return make_train_step(cfg, G, D, og, od, G_ema), (
            torch.rand(32, 1, 16, 16) * 2 - 1,
            torch.randint(0, 10, (32,)),
        )
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


# name -> timed steps per run (after one warm-up step)
MODELS = {
    "intro_mlp_gan": 200,
    "cgan_conv": 60,
    "acgan_conv": 60,
    "pix2pix_cpu": 40,
    "cyclegan_cpu": 30,
    "bicyclegan_cpu": 30,
    "biggan_cpu": 30,
    "pix2pix_unet_128": 4,
    "pix2pix_unet_256": 3,
    "cyclegan_resnet_9blocks": 2,
}


def timed_steps(config, seed):
    """A run for ``ganlib.runs``: build ``config['model']``, one warm-up step, time the rest."""
    step, batch = _build(config["model"])
    step(batch)
    start = time.perf_counter()
    for _ in range(config["steps"]):
        step(batch)
    return {"seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(MODELS), help="models to time")
    parser.add_argument("--runs", type=int, default=4, help="independent runs per model")
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="threads of the sequential runs"
    )
    parser.add_argument(
        "--workers", type=int, default=len(os.sched_getaffinity(0)), help="worker processes of the parallel runs"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
        f"torch {torch.__version__}; {args.runs} runs per model; sequential {args.threads} threads, "
        f"parallel {args.workers} workers x 1 thread"
    )
    head = (
        f"{'model':<24} {'steps/run':>9} {'seq s/step':>11} {'par s/step':>11} {'seq steps/s':>12} "
        f"{'par steps/s':>12} {'speed-up':>9} {'step speed-up':>14}"
    )
    print(head)
    print("-" * len(head))
    for name in args.only:
        steps = MODELS[name]
        torch.set_num_threads(args.threads)
        began = time.perf_counter()
        seq = [timed_steps({"model": name, "steps": steps}, s)["seconds"] for s in range(args.runs)]
        seq_wall = time.perf_counter() - began
        runs = [Run(timed_steps, {"model": name, "steps": steps}, s, row=name) for s in range(args.runs)]
        began = time.perf_counter()
        par = [r.value["seconds"] for r in run_all(runs, workers=args.workers, progress=False)]
        par_wall = time.perf_counter() - began
        total = steps * args.runs
        print(
            f"{name:<24} {steps:>9} {sum(seq) / total:>11.4f} {sum(par) / total:>11.4f} "
            f"{total / seq_wall:>12.2f} {total / par_wall:>12.2f} {seq_wall / par_wall:>8.2f}x "
            f"{min(args.workers, args.runs) * sum(seq) / sum(par):>13.2f}x",
            flush=True,
        )
    print(
        "s/step: one run's time per step (timed steps only); steps/s: all runs together, wall clock "
        "including building the models (and, in parallel, starting the workers); speed-up: their ratio; "
        "step speed-up: the throughput of the timed steps alone, workers x seq s/step / par s/step "
        "(what long runs approach, where start-up no longer counts)."
    )


if __name__ == "__main__":
    main()
