"""One chapter's `gpu` profile, end to end on the CPU at 2 steps (run by tests/test_gpu_profile.py).

    python tests/gpu_smoke.py CHAPTER MIRROR_URL ROOT

The chapter's own `gpu` config (read from its notebook: the cells up to the one that chooses
``cfg``, with ``PROFILE = "gpu"``), its full architectures and image size; the data set is
downloaded from ``MIRROR_URL`` (a loopback server holding an archive of the real layout with a
handful of images), extracted, streamed from disk, trained 2 steps with a checkpoint, resumed
for a third, and measured. Prints one JSON line: what ran and the process's peak memory.

The torchvision sets (chapters 1, 2, 6, 7: MNIST, CIFAR-10) are fetched by torchvision's own
download code pointed at the mirror, their MD5 checks against the sums the mirror publishes
(``checksums.json``); chapter 7's Inception weights likewise through ganlib's checksummed
download (sha256). Chapter 0's gpu profile downloads nothing (ring, bundled digits).
"""

import dataclasses
import json
import os
import resource
import sys
import time
import urllib.request
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def peak_memory_mb() -> float:
    """This run's peak resident memory. On Linux, VmHWM of the process's own memory map: ru_maxrss
    also counts the memory of the process that forked this one (the pytest process, gigabytes by the
    time these tests run), because the kernel carries it across fork and exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


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


def _fit_resume(trainer_factory, batches_factory, tmp: Path, fit_kwargs=lambda m: {}):
    """2 steps with a checkpoint, then a fresh trainer resumed from it for a third step."""
    from ganlib.train import fit

    tmp.mkdir(parents=True, exist_ok=True)
    ckpt = tmp / "smoke.pt"
    model = trainer_factory()
    fit(model, batches_factory(), 2, checkpoint=ckpt, progress=False, **fit_kwargs(model))
    model = trainer_factory()
    history = fit(model, batches_factory(), 3, checkpoint=ckpt, progress=False, **fit_kwargs(model))
    assert history.steps == [1, 2, 3], history.steps
    return model


def _gan(G, D, step_fn, lr):
    """A generator and a discriminator with chapter 0's Adam(lr, betas=(0.5, 0.999)) and one training
    step ``step_fn(G, D, opt_g, opt_d, *batch)``, as a ``GANTrainer``: the chapters 0, 1, 2 and 7
    models as their notebooks build them."""
    from ganlib.train import GANTrainer

    return GANTrainer(
        G,
        D,
        torch.optim.Adam(G.parameters(), lr, betas=(0.5, 0.999)),
        torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999)),
        step_fn,
    )


def _checksums(mirror: str) -> dict:
    with urllib.request.urlopen(f"{mirror}/checksums.json", timeout=30) as r:
        return json.loads(r.read())


def _point_torchvision_at(mirror: str, dataset: str, sums: dict) -> None:
    """torchvision's own download code for ``dataset``, fetching from the mirror; its MD5 checks stay
    on, against the mirror's sums (this process only: real downloads keep the real sums)."""
    import torchvision.datasets as tvd

    if dataset == "mnist":
        tvd.MNIST.mirrors = [f"{mirror}/"]
        tvd.MNIST.resources = [(name, sums[name]["md5"]) for name, _ in tvd.MNIST.resources]
    elif dataset == "cifar10":
        c = tvd.CIFAR10
        c.url, c.tgz_md5 = f"{mirror}/{c.filename}", sums[c.filename]["md5"]
        c.train_list = [[name, sums[f"{c.base_folder}/{name}"]["md5"]] for name, _ in c.train_list]
        c.test_list = [[name, sums[f"{c.base_folder}/{name}"]["md5"]] for name, _ in c.test_list]
        c.meta = {**c.meta, "md5": sums[f"{c.base_folder}/{c.meta['filename']}"]["md5"]}
    else:
        raise ValueError(f"no mirror for {dataset}")


def _labelled(cfg, mirror: str, root: Path, out: dict):
    """Download ``cfg.dataset`` from the mirror into ``root`` and load it as the chapter does."""
    from ganlib.data import registry

    _point_torchvision_at(mirror, cfg.dataset, _checksums(mirror))
    folder = registry.download(cfg.dataset, root=root, progress=False)
    x, y = registry.load_labelled(cfg.dataset, train=True, size=cfg.image_size, root=root)
    x_test, y_test = registry.load_labelled(cfg.dataset, train=False, size=cfg.image_size, root=root)
    out.update(dataset=cfg.dataset, folder=folder.name, image_size=cfg.image_size, train_images=len(x))
    return x, y, x_test, y_test


def _judge(cfg):
    """The chapter's judge classifier on the mirror's images, trained 2 steps (the chapter trains 3,000),
    cached in $GANLIB_CACHE (the test points it at its own folder)."""
    from ganlib.classifier import pretrained_classifier

    return pretrained_classifier(cfg.dataset, image_size=cfg.image_size, steps=2)


def run_labelled(chapter: str, mirror: str, root: Path) -> dict:
    """Chapters 0, 1, 2, 6 and 7: labelled images (or none), trained through ``ganlib.train.fit``."""
    from ganlib.data import TensorBatches
    from ganlib.utils import seed_everything

    ns = chapter_config(chapter)
    cfg = ns["cfg"]
    out = {"chapter": chapter}
    if chapter.startswith("00"):
        from ganlib.data import load_digits
        from ganlib.data.toy2d import ring_mode_coverage, ring_of_gaussians
        from ganlib.models import mlp_gan

        def ring_gan():
            seed_everything(0)
            return _gan(
                mlp_gan.MLPGenerator(z_dim=cfg.z_dim, out_dim=2, hidden=cfg.hidden),
                mlp_gan.MLPDiscriminator(in_dim=2, hidden=cfg.hidden),
                mlp_gan.gan_step,
                cfg.lr,
            )

        def digits_gan():
            seed_everything(0)
            return _gan(
                mlp_gan.MLPGenerator(z_dim=32, out_dim=64, hidden=cfg.digits_hidden, out_activation="tanh"),
                mlp_gan.MLPDiscriminator(in_dim=64, hidden=cfg.digits_hidden),
                lambda G, D, og, od, x: mlp_gan.gan_step(G, D, og, od, x.flatten(1)),
                2e-4,
            )

        ring, digits = ring_of_gaussians(20000, seed=0), load_digits(8)[0]
        out.update(
            dataset="ring + bundled digits (no download)",
            batch_size=cfg.batch_size,
            hidden=cfg.hidden,
            digits_hidden=cfg.digits_hidden,
            gpu_steps={"ring": cfg.ring_steps, "digits": cfg.digits_steps},
        )
        g_ring = _fit_resume(ring_gan, lambda: TensorBatches(ring, batch_size=cfg.batch_size, seed=0), root / "ring").G
        g_digits = _fit_resume(digits_gan, lambda: TensorBatches(digits, batch_size=128, seed=0), root / "digits").G
        # the chapter's 8 px judge (mlp_gan.judge_unconditional), here trained 2 steps in $GANLIB_CACHE
        from ganlib.classifier import pretrained_classifier

        judge = pretrained_classifier("digits", image_size=8, steps=2).eval()
        with torch.no_grad():
            coverage = ring_mode_coverage(g_ring.eval()(torch.randn(1000, cfg.z_dim)))
            p = judge(g_digits.eval()(torch.randn(100, 32)).view(-1, 1, 8, 8)).softmax(1)
        out["measure"] = {
            "ring modes covered": float(coverage["modes_covered"]),
            "digits judge confidence": float(p.max(1).values.mean()),
        }
    elif chapter.startswith(("01", "02")):
        from ganlib.classifier import conditional_accuracy, intra_class_diversity
        from ganlib.models import acgan, cgan

        x, y, _, _ = _labelled(cfg, mirror, root, out)
        K, C = int(y.max()) + 1, x.shape[1]
        kinds = {"cgan": (cgan.MLPConditionalDiscriminator, cgan.cgan_step)}
        if chapter.startswith("02"):
            kinds["acgan"] = (acgan.MLPACGANDiscriminator, acgan.acgan_step)
        out.update(
            batch_size=cfg.batch_size,
            hidden=cfg.hidden,
            z_dim=cfg.z_dim,
            gpu_steps=cfg.mlp_steps if chapter.startswith("01") else cfg.steps,
        )
        judge = _judge(cfg)
        out["measure"] = {}
        for kind, (make_d, step_fn) in kinds.items():

            def gan():
                seed_everything(0)
                return _gan(
                    cgan.MLPConditionalGenerator(cfg.z_dim, K, cfg.image_size, C, cfg.hidden),
                    make_d(K, cfg.image_size, C, cfg.hidden),
                    step_fn,
                    cfg.lr,
                )

            G = _fit_resume(
                gan,
                lambda: TensorBatches(x, y, batch_size=cfg.batch_size, seed=0),
                root / kind,
                lambda m: {"config": cfg},
            ).G
            images, labels = cgan.generate_per_class(G, 2)
            out["measure"][f"{kind} conditional accuracy"] = conditional_accuracy(judge, images, labels)
            out["measure"][f"{kind} intra-class diversity"] = intra_class_diversity(judge, images, labels)
    elif chapter.startswith("06"):
        import dataclasses as dc

        from ganlib.models.biggan import ema_with_standing_statistics, measure_generator, train_biggan

        x, y, _, _ = _labelled(cfg, mirror, root, out)
        # the gpu config's architecture and image size; the batch is cut from 50 to 1 (4 D steps of 1
        # image each per G step): at 50, one G step of the 256-wide nets takes minutes on a CPU
        smoke = dc.replace(cfg, batch_size=1)
        out.update(
            model="BigGAN (cifar10_config)",
            g_width=cfg.g_width,
            d_width=cfg.d_width,
            z_dim=cfg.z_dim,
            d_steps=cfg.d_steps,
            gpu_batch_size=cfg.batch_size,
            batch_size=smoke.batch_size,
            gpu_steps=cfg.steps,
        )
        ckpt = root / "biggan.pt"
        train_biggan(dc.replace(smoke, steps=2), x, y, device="cpu", checkpoint=ckpt, progress=False)
        G, D, G_ema, history = train_biggan(
            dc.replace(smoke, steps=3), x, y, device="cpu", checkpoint=ckpt, progress=False
        )
        assert history.steps == [1, 2, 3], history.steps
        judge = _judge(cfg)
        labels = torch.arange(cfg.num_classes).repeat_interleave(2)
        sampler = ema_with_standing_statistics(G_ema, batches=1, batch_size=4)
        m = measure_generator(sampler, judge, x[: len(labels)], labels)
        out["measure"] = {k: float(v) for k, v in m.items()}
    elif chapter.startswith("07"):
        from ganlib import metrics
        from ganlib.metrics import inception
        from ganlib.models import mlp_gan

        sums = _checksums(mirror)
        x, _, x_test, _ = _labelled(cfg, mirror, root, out)
        # the published weights' address and sha256, replaced by the mirror's (this process only)
        inception.FID_WEIGHTS_URL = f"{mirror}/{inception.FID_WEIGHTS_FILENAME}"
        inception.FID_WEIGHTS_SHA256 = sums[inception.FID_WEIGHTS_FILENAME]["sha256"]
        assert cfg.extractor == "inception", cfg.extractor
        extractor = metrics.fid_inception_extractor()
        pixels = cfg.image_size**2

        def gan():
            seed_everything(0)
            return _gan(
                mlp_gan.MLPGenerator(z_dim=32, out_dim=pixels, hidden=cfg.gan_hidden, layers=3, out_activation="tanh"),
                mlp_gan.MLPDiscriminator(in_dim=pixels, hidden=cfg.gan_hidden, layers=3),
                lambda G, D, og, od, b: mlp_gan.gan_step(G, D, og, od, b.flatten(1)),
                cfg.lr,
            )

        out.update(
            extractor="FID Inception-v3 (mirror weights: random)",
            gan_hidden=cfg.gan_hidden,
            batch_size=cfg.batch_size,
            gpu_steps=cfg.gan_steps,
        )
        G = _fit_resume(gan, lambda: TensorBatches(x, batch_size=cfg.batch_size, seed=0), root / "gan").G
        n = 16  # 299 px Inception forwards are the cost here: 16 real, 16 generated
        with torch.no_grad():
            fake = G.eval()(torch.randn(n, 32)).view(-1, 1, cfg.image_size, cfg.image_size)
        real_f = metrics.extract_features(extractor, x_test[:n], batch_size=256)
        fake_f = metrics.extract_features(extractor, fake, batch_size=256)
        with torch.no_grad():  # = extractor.logits(fake), from the pool features already computed
            logits = extractor.network.logits_from_pool(torch.as_tensor(fake_f, dtype=torch.float32))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # KID on a handful of features warns that it is noisy
            kid = metrics.kernel_inception_distance(real_f, fake_f, subsets=2, subset_size=n // 2)[0]
        assert float(real_f.std(0).mean()) > 0, "the Inception features do not vary: the measures would be 0"
        out["measure"] = {
            "FID": metrics.fid_from_features(real_f, fake_f),
            "IS": metrics.inception_score(logits, splits=1)[0],
            "KID": float(kid),
        }
        out["features"] = list(real_f.shape)
    else:
        raise ValueError(f"no gpu smoke run for {chapter}")
    out["steps"] = 3
    out["peak_memory_mb"] = peak_memory_mb()
    return out


def run(chapter: str, mirror: str, root: Path) -> dict:
    from ganlib.data import registry
    from ganlib.data.streaming import PairedImages, StreamingBatches, UnpairedImages

    if chapter.startswith(("00", "01", "02", "06", "07")):
        return run_labelled(chapter, mirror, root)
    ns = chapter_config(chapter)
    cfg = ns["cfg"]
    spec = registry.get_spec(cfg.dataset)
    name = Path(spec.url).name
    registry.DATASETS[spec.name] = dataclasses.replace(spec, url=f"{mirror}/{name}", sha256=None)
    folder = registry.download(spec.name, root=root, progress=False)
    out = {
        "chapter": chapter,
        "dataset": spec.name,
        "image_size": cfg.image_size,
        "batch_size": cfg.batch_size,
        "model": type(cfg.model).__name__,
    }
    jitter = bool(getattr(cfg, "jitter", False))
    if chapter.startswith("03"):
        from ganlib.models.pix2pix import Pix2Pix, evaluate_paired_translation

        batches = lambda: StreamingBatches(  # noqa: E731
            PairedImages(
                folder,
                "train",
                cfg.direction,
                cfg.image_size,
                jitter=jitter,
            ),
            cfg.batch_size,
        )
        model = _fit_resume(lambda: Pix2Pix(cfg.model), batches, root, fit_kwargs=lambda m: {"config": m.cfg})
        a, b = registry.load_paired(folder, "val", cfg.direction, size=cfg.image_size)
        out["measure"] = {"val L1": float(evaluate_paired_translation(model.G, a, b)["l1"])}
    elif chapter.startswith("04"):
        from ganlib.models.cyclegan import CycleGAN

        batches = lambda: StreamingBatches(  # noqa: E731
            UnpairedImages(folder, "train", cfg.image_size, jitter=jitter),
            cfg.batch_size,
        )
        model = _fit_resume(lambda: CycleGAN(cfg.model), batches, root, fit_kwargs=lambda m: {"config": m.cfg})
        x, _ = registry.load_unpaired(folder, "test", size=cfg.image_size)
        with torch.no_grad():
            model.G.eval()
            out["measure"] = {"|G(x) - x|": float((model.G(x[:1]) - x[:1]).abs().mean())}
    elif chapter.startswith("05"):
        from ganlib.models.bicyclegan import BicycleGAN, diversity, sample_outputs, to_grey

        batches = lambda: StreamingBatches(  # noqa: E731
            PairedImages(
                folder,
                "train",
                getattr(cfg, "direction", "AtoB"),
                cfg.image_size,
                jitter=jitter,
            ),
            cfg.batch_size,
        )
        model = _fit_resume(lambda: BicycleGAN(cfg.model), batches, root, fit_kwargs=lambda m: {"config": m.cfg})
        a, _ = registry.load_paired(folder, "val", size=cfg.image_size)
        a = to_grey(a[:1]) if cfg.model.in_channels == 1 else a[:1]  # the official --input_nc 1
        outs = sample_outputs(model.G, a, 2, torch.Generator().manual_seed(0))
        out["measure"] = {"diversity": float(diversity(outs))}
    else:
        raise ValueError(f"no gpu smoke run for {chapter}")
    out["steps"] = 3
    out["peak_memory_mb"] = peak_memory_mb()
    return out


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    start = time.process_time()
    result = run(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
    result["cpu_seconds"] = round(time.process_time() - start, 1)
    print(json.dumps(result))
