"""One chapter's `gpu` profile, end to end on the CPU at 2 steps (run by tests/test_gpu_profile.py).

    python tests/gpu_smoke.py CHAPTER MIRROR_URL ROOT

The chapter's own `gpu` config (read from its notebook: the cells up to the one that chooses
``cfg``, with ``PROFILE = "gpu"``), its full architectures and image size; the data set is
downloaded from ``MIRROR_URL`` (a loopback server holding an archive of the real layout with a
handful of images), extracted, streamed from disk, trained 2 steps with a checkpoint, resumed
for a third, and measured. Prints one JSON line: what ran and the process's peak memory.
"""
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def chapter_config(chapter: str, profile: str = "gpu") -> dict:
    """The namespace of ``chapter``'s notebook after the cell that chooses ``cfg`` for ``profile``."""
    import jupytext

    cells = [c for c in jupytext.read(ROOT / "notebooks" / f"{chapter}.py").cells if c.cell_type == "code"]
    params = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    ns: dict = {"__name__": "__chapter__"}
    for i, cell in enumerate(cells[: params + 2]):
        exec(compile(cell.source, f"{chapter} cell {i}", "exec"), ns)
        if i == params:
            ns["PROFILE"] = profile  # what papermill's -p PROFILE gpu injects
    return ns


def _fit_resume(step_factory, batches_factory, tmp: Path, fit_kwargs):
    """2 steps with a checkpoint, then a fresh model resumed from it for a third step."""
    from ganlib.train import fit

    ckpt = tmp / "smoke.pt"
    model = step_factory()
    fit(model.step, batches_factory(), 2, checkpoint=ckpt, progress=False, **fit_kwargs(model))
    model = step_factory()
    history = fit(model.step, batches_factory(), 3, checkpoint=ckpt, progress=False, **fit_kwargs(model))
    assert history.steps == [1, 2, 3], history.steps
    return model


def run(chapter: str, mirror: str, root: Path) -> dict:
    from ganlib.data import registry
    from ganlib.data.streaming import PairedImages, StreamingBatches, UnpairedImages

    ns = chapter_config(chapter)
    cfg = ns["cfg"]
    spec = registry.get_spec(cfg.dataset)
    name = Path(spec.url).name
    registry.DATASETS[spec.name] = dataclasses.replace(spec, url=f"{mirror}/{name}", sha256=None)
    folder = registry.download(spec.name, root=root, progress=False)
    out = {"chapter": chapter, "dataset": spec.name, "image_size": cfg.image_size,
           "batch_size": cfg.batch_size, "model": type(cfg.model).__name__}
    jitter = bool(getattr(cfg, "jitter", False))
    if chapter.startswith("03"):
        from ganlib.models.pix2pix import Pix2Pix, evaluate_translation

        batches = lambda: StreamingBatches(PairedImages(folder, "train", cfg.direction, cfg.image_size,  # noqa: E731
                                                        jitter=jitter), cfg.batch_size)
        model = _fit_resume(lambda: Pix2Pix(cfg.model), batches, root,
                            fit_kwargs=lambda m: {**m.modules_and_optimizers, "config": m.cfg})
        a, b = registry.load_paired(folder, "val", cfg.direction, size=cfg.image_size)
        out["measure"] = {"val L1": float(evaluate_translation(model.G, a, b)["l1"])}
    elif chapter.startswith("04"):
        from ganlib.models.cyclegan import CycleGAN

        batches = lambda: StreamingBatches(UnpairedImages(folder, "train", cfg.image_size, jitter=jitter),  # noqa: E731
                                           cfg.batch_size)
        model = _fit_resume(lambda: CycleGAN(cfg.model), batches, root,
                            fit_kwargs=lambda m: {"modules": m.modules, "optimizers": m.optimizers,
                                                  "states": m.states, "config": m.cfg})
        x, _ = registry.load_unpaired(folder, "test", size=cfg.image_size)
        with torch.no_grad():
            model.G.eval()
            out["measure"] = {"|G(x) - x|": float((model.G(x[:1]) - x[:1]).abs().mean())}
    elif chapter.startswith("05"):
        from ganlib.models.bicyclegan import BicycleGAN, diversity, sample_outputs, to_grey

        batches = lambda: StreamingBatches(PairedImages(folder, "train", getattr(cfg, "direction", "AtoB"),  # noqa: E731
                                                        cfg.image_size, jitter=jitter), cfg.batch_size)
        model = _fit_resume(lambda: BicycleGAN(cfg.model), batches, root,
                            fit_kwargs=lambda m: {"modules": m.modules_dict(), "optimizers": m.optimizers,
                                                  "config": m.cfg})
        a, _ = registry.load_paired(folder, "val", size=cfg.image_size)
        a = to_grey(a[:1]) if cfg.model.in_channels == 1 else a[:1]  # the official --input_nc 1
        outs = sample_outputs(model.G, a, 2, torch.Generator().manual_seed(0))
        out["measure"] = {"diversity": float(diversity(outs))}
    else:
        raise ValueError(f"no gpu smoke run for {chapter}")
    out["steps"] = 3
    out["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    start = time.process_time()
    result = run(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
    result["cpu_seconds"] = round(time.process_time() - start, 1)
    print(json.dumps(result))
