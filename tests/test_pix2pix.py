"""Chapter 3, pix2pix: official architectures to the parameter, official checkpoints, training."""
import json
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import ganlib
from ganlib import count_parameters
from ganlib.models.pix2pix import (PatchDiscriminator, Pix2Pix, Pix2PixConfig, UNetGenerator,
                                   empirical_receptive_field, init_weights, linear_decay, norm_layer,
                                   random_jitter, receptive_field)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


# --------------------------------------------------------------------------- parameter counts

@pytest.mark.parametrize("num_downs, expected", [(8, 54_413_955), (7, 41_828_995)])
def test_unet_parameter_count_matches_official(num_downs, expected):
    assert count_parameters(UNetGenerator(num_downs=num_downs)) == expected


@pytest.mark.parametrize("n_layers, expected", [(0, 9_024), (1, 139_585), (2, 666_433), (3, 2_768_705),
                                                (4, 6_964_033), (5, 11_159_361)])
def test_patchgan_parameter_count_matches_official(n_layers, expected):
    assert count_parameters(PatchDiscriminator(6, n_layers=n_layers)) == expected


def test_cyclegan_patchgan_instance_norm_count():
    assert count_parameters(PatchDiscriminator(3, norm="instance")) == 2_764_737


def test_bicyclegan_generator_counts():
    # BicycleGAN defaults: unet_256, ngf 64, nz 8, instance norm, upsample "basic".
    add_input = UNetGenerator(norm="instance", nz=8, z_injection="input", use_dropout=False)
    add_all = UNetGenerator(norm="instance", nz=8, z_injection="all", use_dropout=False)
    assert count_parameters(add_input) == 54_417_795
    assert count_parameters(add_all) == 54_794_627
    # BicycleGAN's two-scale D: 70x70 PatchGANs with ndf 64 and 32, instance norm.
    assert (count_parameters(PatchDiscriminator(3, 64, norm="instance"))
            + count_parameters(PatchDiscriminator(3, 32, norm="instance"))) == 3_458_978


def test_unet_with_z_runs_and_uses_z():
    torch.manual_seed(0)
    for where in ("input", "all"):
        for upsample in ("basic", "bilinear", "nearest"):
            G = UNetGenerator(1, 2, num_downs=5, ngf=4, norm="instance", nz=3, z_injection=where,
                              upsample=upsample, use_dropout=False)
            x = torch.randn(2, 1, 32, 32)
            y1, y2 = G(x, torch.randn(2, 3)), G(x, torch.randn(2, 3))
            assert y1.shape == (2, 2, 32, 32)
            assert (y1 - y2).abs().max() > 1e-6, f"z has no effect ({where}, {upsample})"
    with pytest.raises(ValueError, match="latent code"):
        G(x)
    with pytest.raises(ValueError, match=r"\(N, nz\)"):
        G(x, torch.randn(2, 4))


def test_z_all_injects_at_every_down_conv():
    G = UNetGenerator(3, 3, num_downs=6, ngf=4, norm="instance", nz=5, z_injection="all")
    convs = [m for name, m in G.named_modules() if name.endswith("down.conv")]
    assert len(convs) == 6
    assert [c.in_channels for c in convs] == [3 + 5, 4 + 5, 8 + 5, 16 + 5, 32 + 5, 32 + 5]  # outermost first
    G_in = UNetGenerator(3, 3, num_downs=6, ngf=4, norm="instance", nz=5, z_injection="input")
    assert G_in.model.down.conv.in_channels == 8 and G_in.model.inner.down.conv.in_channels == 4


# --------------------------------------------------------------------------- pieces

def test_norm_layer_and_init():
    bn, inn = norm_layer("batch")(4), norm_layer("instance")(4)
    assert isinstance(bn, nn.BatchNorm2d) and bn.affine and bn.track_running_stats
    assert isinstance(inn, nn.InstanceNorm2d) and not inn.affine and not inn.track_running_stats
    assert isinstance(norm_layer("none")(4), nn.Identity)
    with pytest.raises(ValueError, match="batch, instance, none"):
        norm_layer("group")
    torch.manual_seed(0)
    G = init_weights(UNetGenerator(3, 3, num_downs=5, ngf=64), 0.02)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(w.std().item() - 0.02) < 1e-3 and abs(w.mean().item()) < 1e-3
    g = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(g.mean().item() - 1.0) < 5e-3 and abs(g.std().item() - 0.02) < 5e-3
    assert all(m.bias.abs().max() == 0 for m in G.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None)


def test_receptive_field_formula_and_empirical():
    assert [receptive_field(n) for n in range(6)] == [1, 16, 34, 70, 142, 286]
    for n in range(5):
        assert empirical_receptive_field(PatchDiscriminator(6, 4, n_layers=n)) == receptive_field(n)
    assert empirical_receptive_field(PatchDiscriminator(3, 2, n_layers=5, norm="instance"), 512) == 286


def test_patchgan_output_shapes():
    x = torch.randn(2, 6, 256, 256)
    assert PatchDiscriminator(6, 8, n_layers=3)(x).shape == (2, 1, 30, 30)
    assert PatchDiscriminator(6, 8, n_layers=0)(x).shape == (2, 1, 256, 256)
    with pytest.raises(ValueError, match="in_channels = input channels \\+ output channels"):
        PatchDiscriminator(6, 8)(torch.randn(1, 3, 64, 64))


def test_unet_bad_input_messages():
    G = UNetGenerator(3, 3, num_downs=5, ngf=4)
    with pytest.raises(ValueError, match=r"multiples of 2\*\*5 = 32 \(e.g. 32, 64, 96\)"):
        G(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="built for 3 input channels but the images have 1"):
        G(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="nz=0 and takes no z"):
        G(torch.randn(1, 3, 32, 32), torch.randn(1, 8))
    with pytest.raises(ValueError, match="norm"):
        UNetGenerator(norm="layer")


def test_unet_shapes_and_range():
    G = UNetGenerator(1, 3, num_downs=6, ngf=4)
    y = G(torch.randn(2, 1, 64, 128))
    assert y.shape == (2, 3, 64, 128) and y.abs().max() <= 1


# --------------------------------------------------------------------------- official checkpoints

class _OfficialUnetBlock(nn.Module):
    """An independent transcription of the official ``UnetSkipConnectionBlock`` (nesting, in-place
    LeakyReLU, ``cat([x, model(x)])``), used only to check ``from_official``."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = norm_layer is not nn.BatchNorm2d
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, 2, 1, bias=use_bias)
        downrelu, downnorm = nn.LeakyReLU(0.2, True), norm_layer(inner_nc)
        uprelu, upnorm = nn.ReLU(True), norm_layer(outer_nc)
        if outermost:
            model = [downconv, submodule, uprelu, nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
        elif innermost:
            model = [downrelu, downconv, uprelu, nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=use_bias),
                     upnorm]
        else:
            model = [downrelu, downconv, downnorm, submodule, uprelu,
                     nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=use_bias), upnorm]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class _OfficialUnet(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=True):
        super().__init__()
        block = _OfficialUnetBlock(ngf * 8, ngf * 8, innermost=True, norm_layer=norm_layer)
        for _ in range(num_downs - 5):
            block = _OfficialUnetBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer,
                                       use_dropout=use_dropout)
        block = _OfficialUnetBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = _OfficialUnetBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = _OfficialUnetBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = _OfficialUnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                        norm_layer=norm_layer)

    def forward(self, x):
        return self.model(x)


def _randomise(module):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.5 if "running_var" in name
                        else torch.randn(t.shape, generator=g) * 0.1)


# A few entries of the official unet_256 state_dict layout (shared/reference/official_unet_256_keys.json
# lists all 82 keys; it is compared in full below where the file is present).
OFFICIAL_UNET_256_SAMPLE = {
    "model.model.0.weight": [64, 3, 4, 4],
    "model.model.1.model.1.weight": [128, 64, 4, 4],
    "model.model.1.model.2.num_batches_tracked": [],
    "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.3.weight": [512, 512, 4, 4],
    "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.4.weight": [512],
    "model.model.1.model.3.model.6.running_var": [128],
    "model.model.1.model.5.weight": [256, 64, 4, 4],
    "model.model.3.weight": [128, 3, 4, 4],
    "model.model.3.bias": [3],
}


def test_official_key_layout_matches_reference():
    mapping = UNetGenerator.official_key_map(8, "batch")
    own = UNetGenerator().state_dict()
    ref = _OfficialUnet(3, 3, 8, norm_layer=nn.BatchNorm2d).state_dict()
    assert len(mapping) == len(own) == len(ref) == 82
    assert set(mapping) == set(ref) and set(mapping.values()) == set(own)
    for k, v in ref.items():
        assert own[mapping[k]].shape == v.shape, k
    for k, shape in OFFICIAL_UNET_256_SAMPLE.items():
        assert list(ref[k].shape) == shape and list(own[mapping[k]].shape) == shape, k
    path = REFERENCE / "official_unet_256_keys.json"
    if path.exists():
        assert [[k, list(v.shape)] for k, v in ref.items()] == json.loads(path.read_text())


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_from_official_gives_the_same_output(norm):
    norm_cls = nn.BatchNorm2d if norm == "batch" else nn.InstanceNorm2d
    ref = _OfficialUnet(2, 3, 6, ngf=8, norm_layer=norm_cls)
    _randomise(ref)
    ours = UNetGenerator.from_official(ref.state_dict())
    assert (ours.num_downs, ours.ngf, ours.in_channels, ours.out_channels, ours.norm) == (6, 8, 2, 3, norm)
    x = torch.randn(2, 2, 64, 64)
    ref.eval(), ours.eval()
    with torch.no_grad():
        assert torch.allclose(ref(x.clone()), ours(x), atol=1e-5)
    ref.train(), ours.train()  # the official test-time mode: dropout on, batch statistics
    with torch.no_grad():
        torch.manual_seed(5)
        y_ref = ref(x.clone())
        torch.manual_seed(5)
        y_ours = ours(x)
    assert torch.allclose(y_ref, y_ours, atol=1e-5)


def test_from_official_path_prefix_and_errors(tmp_path):
    ref = _OfficialUnet(3, 3, 5, ngf=4)
    sd = {"module." + k: v for k, v in ref.state_dict().items()}  # saved from DataParallel
    torch.save(sd, tmp_path / "latest_net_G.pth")
    G = UNetGenerator.from_official(tmp_path / "latest_net_G.pth", num_downs=5)
    assert count_parameters(G) == count_parameters(ref)
    with pytest.raises(ValueError, match="num_downs: checkpoint has 5, you asked for 8"):
        UNetGenerator.from_official(ref.state_dict(), num_downs=8)
    with pytest.raises(ValueError, match="ResNet generator"):
        UNetGenerator.from_official({"model.1.weight": torch.zeros(64, 3, 7, 7), "model.2.weight": torch.zeros(64)})
    broken = dict(ref.state_dict())
    broken.pop("model.model.1.model.5.weight")
    with pytest.raises(ValueError, match="missing keys"):
        UNetGenerator.from_official(broken)
    with pytest.raises(TypeError, match="unknown keywords"):
        UNetGenerator.from_official(ref.state_dict(), depth=5)


# --------------------------------------------------------------------------- training pieces

def test_linear_decay_schedule():
    f = linear_decay(100, 100)  # the official defaults, in epochs
    assert [f(t) for t in (0, 99, 100, 101)] == [1.0, 1.0, 1 - 1 / 101, 1 - 2 / 101]
    assert f(199) == pytest.approx(1 / 101)
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_decay(2, 2))
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert lrs == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3])


def test_random_jitter_same_crop_for_pairs():
    a = torch.linspace(-1, 1, 32).expand(4, 1, 32, 32).contiguous()
    b = -a.expand(4, 3, 32, 32).contiguous()
    ja, jb = random_jitter(a, b, load_size=36, crop_size=32, generator=torch.Generator().manual_seed(0))
    assert ja.shape == (4, 1, 32, 32) and jb.shape == (4, 3, 32, 32)
    assert torch.allclose(jb, -ja.expand(-1, 3, -1, -1), atol=1e-6)  # the same crop and flip
    assert ja.abs().max() <= 1
    with pytest.raises(ValueError, match="pairs of the same size"):
        random_jitter(a, b[:, :, :16])


def test_step_order_and_d_not_updated_by_g():
    torch.manual_seed(0)
    cfg = Pix2PixConfig(in_channels=1, out_channels=1, num_downs=5, ngf=4, ndf=4)
    model = Pix2Pix(cfg)
    a, b = torch.randn(2, 1, 32, 32), torch.randn(2, 1, 32, 32)
    d_before = [p.detach().clone() for p in model.D.parameters()]
    losses = model.step((a, b))
    assert set(losses) == {"d_loss", "g_gan", "g_l1"}
    assert all(p.requires_grad for p in model.D.parameters())
    # D was updated exactly once (its own Adam step), with the loss on fake.detach()
    assert any(not torch.equal(p, q) for p, q in zip(d_before, model.D.parameters()))
    assert model.opt_d.state[next(model.D.parameters())]["step"] == 1
    l1_only = Pix2Pix(ganlib.override(cfg, use_gan=False))
    d0 = [p.detach().clone() for p in l1_only.D.parameters()]
    assert set(l1_only.step((a, b))) == {"g_l1"}
    assert all(torch.equal(p, q) for p, q in zip(d0, l1_only.D.parameters()))


# --------------------------------------------------------------------------- learning test

@pytest.mark.learning
def test_pix2pix_learns_toy_facades():
    """<= 60 s CPU: held-out L1 at most half of the mean-target baseline's."""
    from ganlib.data.toy_facades import load_toy_facades
    from ganlib.train import fit
    from ganlib.data.batches import TensorBatches

    torch.manual_seed(0)
    a_train, b_train = load_toy_facades(512, size=32, split="train")
    a_test, b_test = load_toy_facades(128, size=32, split="test")
    baseline = (b_test - b_train.mean(0, keepdim=True)).abs().mean().item()
    # toy scale: a narrow U-Net for 32x32 (num_downs=5), a 34x34 PatchGAN, batch 16 and a
    # higher learning rate than the paper's 2e-4 so that 700 steps (~25 s CPU) suffice
    cfg = Pix2PixConfig(in_channels=a_train.shape[1], out_channels=b_train.shape[1], num_downs=5, ngf=16,
                        ndf=16, n_layers_d=2, lr=5e-4)
    model = Pix2Pix(cfg)
    batches = TensorBatches(a_train, b_train, batch_size=16, seed=0)
    start = time.process_time()
    history = fit(model.step, batches, 700, modules={"G": model.G, "D": model.D}, progress=False)
    spent = time.process_time() - start
    with torch.no_grad():
        model.G.eval()
        l1 = (model.G(a_test) - b_test).abs().mean().item()
    print(f"held-out L1 {l1:.4f} vs mean-target baseline {baseline:.4f}; {len(history.steps)} steps, "
          f"{spent:.1f} s CPU")
    assert l1 <= 0.5 * baseline


def test_min_input_size_and_small_input_error():
    from ganlib.models.pix2pix import min_input_size
    assert [min_input_size(n) for n in range(1, 6)] == [6, 12, 24, 48, 96]
    D = PatchDiscriminator(6, 4, n_layers=5)
    assert D(torch.randn(1, 6, 96, 96)).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="at least 96x96"):
        D(torch.randn(1, 6, 64, 64))


def test_evaluate_translation_numbers():
    from ganlib.models.pix2pix import evaluate_translation, high_frequency_energy

    class Shift(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return x * 0 + 0.5

    B = torch.zeros(3, 1, 8, 8)
    B[:, :, ::2] = 1.0
    m = evaluate_translation(Shift(), torch.zeros(3, 1, 8, 8), B)
    assert m["l1"] == pytest.approx(0.5) and m["psnr"] == pytest.approx(10 * torch.log10(torch.tensor(16.0)).item())
    assert m["hf_ratio"] == 0.0  # a flat output has no high frequencies
    assert high_frequency_energy(B).shape == (3,)


def test_schedule_in_pix2pix_model():
    cfg = Pix2PixConfig(in_channels=1, out_channels=1, num_downs=5, ngf=2, ndf=2, n_constant=1, n_decay=1)
    model = Pix2Pix(cfg)
    a = torch.randn(2, 1, 32, 32)
    model.step((a, a))
    assert model.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.5)  # f(1) = 1 - 1/2
    model.step((a, a))
    assert model.opt_d.param_groups[0]["lr"] == pytest.approx(0.0)
    assert set(model.modules_and_optimizers) == {"modules", "optimizers", "schedulers"}


def test_jittered_batches_resume_exactly():
    from ganlib.data.batches import TensorBatches
    from ganlib.models.pix2pix import JitteredBatches
    a = torch.rand(6, 1, 12, 12) * 2 - 1
    b = -a
    j1 = JitteredBatches(TensorBatches(a, b, batch_size=2, seed=0), load_size=12, crop_size=8, seed=3)
    next(j1)
    state = j1.state_dict()
    want = next(j1)
    j2 = JitteredBatches(TensorBatches(a, b, batch_size=2, seed=9), load_size=12, crop_size=8, seed=4)
    j2.load_state_dict(state)
    got = next(j2)
    assert torch.equal(want[0], got[0]) and torch.equal(want[1], got[1])
    assert want[0].shape == (2, 1, 8, 8) and torch.equal(want[1], -want[0])
