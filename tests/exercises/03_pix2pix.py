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
    "patch_logits_size": {
        "no padding": """
            for stride in [2] * n_layers + [1, 1]:
                h = (h - 4) // stride + 1
            return h
        """,
        "stride-1 convolutions keep the size": """
            for _ in range(n_layers):
                h = h // 2
            return h
        """,
        "one stride-1 convolution": """
            for stride in [2] * n_layers + [1]:
                h = (h + 2 - 4) // stride + 1
            return h
        """,
        "n_layers - 1 stride-2 convolutions": """
            for stride in [2] * (n_layers - 1) + [1, 1]:
                h = (h + 2 - 4) // stride + 1
            return h
        """,
        "rounding up": """
            for stride in [2] * n_layers + [1, 1]:
                h = -(-(h + 2 - 4) // stride) + 1
            return h
        """,
        "D built and measured": """
            import torch
            from ganlib.models.pix2pix import PatchDiscriminator
            return PatchDiscriminator(6, 4, n_layers=n_layers)(torch.zeros(1, 6, h, h)).shape[-1]
        """,
    },
}
