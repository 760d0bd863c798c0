"""Plausible wrong answers to chapter 3's exercises (see ganlib.student)."""

_COUNT = """
    conv = lambda cin, cout: 16 * cin * cout {bias}
    bn = lambda c: {bn}
    n8 = 8 * ngf
    def level(outer, inner):
        return conv(outer, inner) + bn(inner) + conv({skip} * inner, outer) + bn(outer)
    total = {innermost}
    total += (num_downs - 5) * level(n8, n8)
    total += level(4 * ngf, n8) + level(2 * ngf, 4 * ngf) + level(ngf, 2 * ngf)
    return total + conv(in_ch, ngf) + conv({skip} * ngf, out_ch) {last}
"""
_RIGHT = dict(bias="", bn="2 * c", skip="2", innermost="conv(n8, n8) + conv(n8, n8) + bn(n8)", last="+ out_ch")


def _count(**wrong):
    return _COUNT.format(**{**_RIGHT, **wrong})


WRONG = {
    "unet_parameters": {
        "a bias on every convolution": _count(bias="+ cout", last=""),
        "the skip forgotten (up-convs read inner channels)": _count(skip="1"),
        "batch norm without parameters": _count(bn="0"),
        "the last convolution without its bias": _count(last=""),
        "the innermost level counted like a middle one": _count(innermost="level(n8, n8)"),
        "the network built and counted": """
            from ganlib.models.pix2pix import UNetGenerator
            G = UNetGenerator(in_ch, out_ch, num_downs=num_downs, ngf=ngf)
            return sum(p.numel() for p in G.parameters())
        """,
    },
    "pix2pix_g_loss": {
        "GAN target 0": """
            gan = F.binary_cross_entropy_with_logits(d_fake_logits, torch.zeros_like(d_fake_logits))
            return gan + lam * (fake - target).abs().mean()
        """,
        "L2 instead of L1": """
            gan = F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))
            return gan + lam * ((fake - target) ** 2).mean()
        """,
        "L1 summed over pixels": """
            gan = F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))
            return gan + lam * (fake - target).abs().sum()
        """,
        "lam on the GAN term": """
            gan = F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))
            return lam * gan + (fake - target).abs().mean()
        """,
        "signed error (no absolute value)": """
            gan = F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))
            return gan + lam * (fake - target).mean()
        """,
        "GAN term summed over patches": """
            gan = F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits), reduction="sum")
            return gan + lam * (fake - target).abs().mean()
        """,
    },
}
