"""The training contract (``ganlib.train.Trainer``): every chapter's model trains with
``fit(trainer, batches, steps, checkpoint=...)``, checkpoints everything it needs, and resumes
to the weights of an uninterrupted run. Toy sizes: a few seconds at one thread."""

import pytest
import torch

import ganlib
from ganlib.data import TensorBatches
from ganlib.train import GANTrainer, Trainer, fit, loss_network


def _adam(net):
    return torch.optim.Adam(net.parameters(), 1e-3, betas=(0.5, 0.999))


def _gan(make_g, make_d, step_fn, **options):
    G, D = make_g(), make_d()
    return GANTrainer(G, D, _adam(G), _adam(D), step_fn, **options)


def mlp_gan():
    from ganlib.models import mlp_gan as m

    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    return (
        lambda: _gan(
            lambda: m.MLPGenerator(z_dim=4, hidden=16),
            lambda: m.MLPDiscriminator(hidden=16),
            m.gan_step,
            g_loss="saturating",
        ),
        lambda: TensorBatches(data, batch_size=8, seed=0),
    )


def _labelled():
    g = torch.Generator().manual_seed(1)
    return torch.rand(64, 1, 16, 16, generator=g) * 2 - 1, torch.arange(64) % 10


def cgan():
    from ganlib.models import cgan as m

    x, y = _labelled()
    return (
        lambda: _gan(
            lambda: m.MLPConditionalGenerator(z_dim=8, hidden=32),
            lambda: m.MLPConditionalDiscriminator(hidden=32),
            m.cgan_step,
        ),
        lambda: TensorBatches(x, y, batch_size=8, seed=0),
    )


def acgan():
    from ganlib.models import acgan as m
    from ganlib.models.cgan import MLPConditionalGenerator

    x, y = _labelled()
    return (
        lambda: _gan(
            lambda: MLPConditionalGenerator(z_dim=8, hidden=32),
            lambda: m.MLPACGANDiscriminator(hidden=32),
            m.acgan_step,
        ),
        lambda: TensorBatches(x, y, batch_size=8, seed=0),
    )


def pix2pix():
    from ganlib.models.pix2pix import Pix2Pix, Pix2PixConfig

    cfg = Pix2PixConfig(in_channels=1, out_channels=1, num_downs=5, ngf=4, ndf=4, n_constant=1, n_decay=3)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(8, 1, 32, 32, generator=g), torch.rand(8, 1, 32, 32, generator=g)
    return lambda: Pix2Pix(cfg), lambda: TensorBatches(a, b, batch_size=2, seed=0)


def cyclegan():
    from ganlib.models.cyclegan import CycleGAN, CycleGANConfig

    cfg = CycleGANConfig(ngf=4, ndf=4, n_blocks=1, n_layers_d=2, n_constant=1, n_decay=3, pool_size=2)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(8, 3, 16, 16, generator=g) * 2 - 1, torch.rand(8, 3, 16, 16, generator=g) * 2 - 1
    return lambda: CycleGAN(cfg), lambda: TensorBatches(x, y, batch_size=2, seed=0)


def bicyclegan():
    from ganlib.models.bicyclegan import BicycleGAN, BicycleGANConfig

    cfg = BicycleGANConfig(
        ngf=8,
        ndf=8,
        nef=8,
        num_downs=5,
        n_blocks_e=2,
        n_layers_d=2,
        lr=1e-3,
        init_gain=1.0,
        z_injection="input",
        niter=1,
        niter_decay=2,
        epoch_steps=1,
    )
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1, torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
    return lambda: BicycleGAN(cfg), lambda: TensorBatches(a, b, batch_size=2, seed=0)


def biggan():
    from ganlib.models.biggan import BigGANConfig, BigGANTrainer

    cfg = BigGANConfig(g_width=16, d_width=16, z_dim=48, shared_dim=8, batch_size=4, d_steps=2, ema_start=1)
    x, y = _labelled()
    return lambda: BigGANTrainer(cfg), lambda: TensorBatches(x, y, batch_size=cfg.d_steps * cfg.batch_size, seed=0)


MODELS = [mlp_gan, cgan, acgan, pix2pix, cyclegan, bicyclegan, biggan]


def _weights(trainer):
    return {
        f"{name}.{k}": v.detach().clone()
        for name, module in trainer.modules.items()
        for k, v in module.state_dict().items()
    }


def _train(make, batches, steps, checkpoint):
    ganlib.seed_everything(0)
    trainer = make()
    history = fit(trainer, batches(), steps, checkpoint=checkpoint, progress=False)
    return trainer, history


@pytest.mark.parametrize("model", MODELS, ids=lambda f: f.__name__)
def test_fit_trainer_resumes_to_the_uninterrupted_weights(model, tmp_path):
    make, batches = model()
    whole, history = _train(make, batches, 3, tmp_path / "whole.pt")
    assert history.steps == [1, 2, 3]
    assert isinstance(whole, Trainer)
    saved = torch.load(tmp_path / "whole.pt", weights_only=True)
    assert set(saved["modules"]) == set(whole.modules) and set(saved["optimizers"]) == set(whole.optimizers)
    assert set(saved["states"]) == set(whole.states)  # schedulers, pools: all in the checkpoint

    _train(make, batches, 2, tmp_path / "cut.pt")
    resumed, history = _train(make, batches, 3, tmp_path / "cut.pt")  # a fresh trainer, resumed at step 2
    assert history.steps == [1, 2, 3]
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    for name, opt in whole.optimizers.items():
        assert opt.param_groups[0]["lr"] == resumed.optimizers[name].param_groups[0]["lr"]


@pytest.mark.parametrize("model", MODELS, ids=lambda f: f.__name__)
def test_step_returns_finite_losses(model):
    make, batches = model()
    ganlib.seed_everything(0)
    trainer = make()
    losses = trainer.step(next(iter(batches())))
    assert isinstance(losses, dict) and losses
    assert all(isinstance(v, torch.Tensor) and torch.isfinite(v).all() for v in losses.values()), losses
    assert {"G", "D"} <= set(trainer.optimizers)  # the same names in every chapter
    nets = {name.lower() for name in trainer.modules}
    for key in losses:  # one loss-key scheme (ganlib.train.LOSS_KEYS)
        assert key == key.lower() and loss_network(key) in nets | {None}, (key, sorted(nets))


def test_fit_refuses_a_trainer_with_its_objects_given_again(tmp_path):
    make, batches = mlp_gan()
    trainer = make()
    with pytest.raises(TypeError, match="from the trainer"):
        fit(trainer, batches(), 1, modules=trainer.modules, progress=False)
    with pytest.raises(TypeError, match="needs modules"):
        fit(trainer.step, batches(), 1, progress=False)


def test_resume_with_a_changed_learning_rate_moves_the_schedulers_in_states(tmp_path):
    from ganlib.models.pix2pix import Pix2Pix, Pix2PixConfig

    cfg = Pix2PixConfig(in_channels=1, out_channels=1, num_downs=5, ngf=2, ndf=2, n_constant=1, n_decay=3)
    a = torch.rand(4, 1, 32, 32)
    fit(
        Pix2Pix(cfg),
        TensorBatches(a, a, batch_size=2, seed=0),
        2,
        checkpoint=tmp_path / "run.pt",
        config=cfg,
        progress=False,
    )
    lower = ganlib.override(cfg, lr=1e-4)
    model = Pix2Pix(lower)
    fit(
        model,
        TensorBatches(a, a, batch_size=2, seed=0),
        2,
        checkpoint=tmp_path / "run.pt",
        config=lower,
        progress=False,
    )
    # loaded after step 2 (rule f(t) = 1 - t / 4: 0.5), then rescaled to the new base rate
    assert model.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5)
    assert model.states["lr_G"].base_lrs == [pytest.approx(1e-4)]
    model.step((a[:2], a[:2]))
    assert model.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.25)


def test_loss_network_reads_the_key_scheme():
    cases = {"d_loss": "d", "d_x_loss": "d_x", "d2_loss": "d2", "g_gan": "g", "f_gan": "f", "g_gan2": "g"}
    cases.update({"d_class_real": "d", "kl": None, "z_l1": None, "cycle_x": None, "idt_y": None})
    assert {key: loss_network(key) for key in cases} == cases


def test_a_checkpoint_with_the_schedulers_apart_from_the_states_still_resumes(tmp_path):
    # Pix2Pix and BicycleGAN checkpoints written before the training contract kept their
    # schedulers under "schedulers" (G, D), not among the trainer's states (lr_G, lr_D)
    make, batches = pix2pix()
    whole, _ = _train(make, batches, 3, tmp_path / "whole.pt")
    _train(make, batches, 2, tmp_path / "old.pt")
    saved = torch.load(tmp_path / "old.pt", weights_only=True)
    saved["schedulers"] = {k[len("lr_") :]: v for k, v in saved.pop("states").items()}
    torch.save(saved, tmp_path / "old.pt")
    resumed, history = _train(make, batches, 3, tmp_path / "old.pt")
    assert history.steps == [1, 2, 3]
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.optimizers["G"].param_groups[0]["lr"] == whole.optimizers["G"].param_groups[0]["lr"]


def test_a_checkpoint_of_another_trainer_is_refused_with_what_it_holds(tmp_path):
    make, batches = pix2pix()
    _train(make, batches, 2, tmp_path / "run.pt")
    saved = torch.load(tmp_path / "run.pt", weights_only=True)
    del saved["states"]["lr_D"]
    torch.save(saved, tmp_path / "run.pt")
    with pytest.raises(ValueError, match=r"holds no states \['lr_D'\]"):
        _train(make, batches, 3, tmp_path / "run.pt")
