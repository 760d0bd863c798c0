"""Plausible wrong answers to chapter 4's exercises (see ganlib.student)."""

_COUNT = """
    conv = lambda cin, cout, k: cin * cout * k * k {bias}
    norm = lambda c: {norm}
    return (conv(in_ch, ngf, {k}) + conv(ngf, 2 * ngf, 3) + conv(2 * ngf, 4 * ngf, 3)
            + n_blocks * {per_block} * conv(4 * ngf, 4 * ngf, 3)
            + conv(4 * ngf, 2 * ngf, 3) + conv(2 * ngf, ngf, 3) + conv(ngf, out_ch, {k})
            + norm(ngf) + norm(2 * ngf) + norm(4 * ngf) + n_blocks * {per_block} * norm(4 * ngf)
            + norm(2 * ngf) + norm(ngf))
"""
_RIGHT = dict(bias="+ cout", norm="0", k="7", per_block="2")


def _count(**wrong):
    return _COUNT.format(**{**_RIGHT, **wrong})


WRONG = {
    "shown_age_probabilities": {
        "overwrite probability 1/N": """
            q = 1 / pool_size
            k = torch.arange(max_age + 1, dtype=torch.float64)
            return torch.where(k == 0, torch.tensor(0.5, dtype=torch.float64), 0.5 * q * (1 - q) ** (k - 1))
        """,
        "ages of stored images start at 0": """
            q = 0.5 / pool_size
            k = torch.arange(max_age + 1, dtype=torch.float64)
            return torch.where(k == 0, torch.tensor(0.5, dtype=torch.float64), 0.5 * q * (1 - q) ** k)
        """,
        "the factor q missing": """
            q = 0.5 / pool_size
            k = torch.arange(max_age + 1, dtype=torch.float64)
            return torch.where(k == 0, torch.tensor(0.5, dtype=torch.float64), 0.5 * (1 - q) ** (k - 1))
        """,
        "no mass at age 0 (the new fake forgotten)": """
            q = 0.5 / pool_size
            k = torch.arange(max_age + 1, dtype=torch.float64)
            return torch.where(k == 0, torch.tensor(0.0, dtype=torch.float64), q * (1 - q) ** (k - 1))
        """,
        "uniform over the pool's slots": """
            k = torch.arange(max_age + 1, dtype=torch.float64)
            return torch.where(k == 0, torch.tensor(0.5, dtype=torch.float64),
                               torch.where(k <= pool_size, 0.5 / pool_size, 0.0).double())
        """,
    },
    "resnet_generator_parameters": {
        "no biases": _count(bias=""),
        "one convolution per block": _count(per_block="1"),
        "3x3 at the ends": _count(k="3"),
        "affine instance norm": _count(norm="2 * c"),
        "the network built and counted": """
            from ganlib.models.cyclegan import ResnetGenerator
            return sum(p.numel() for p in ResnetGenerator(in_ch, out_ch, ngf=ngf, n_blocks=n_blocks).parameters())
        """,
    },
    "optimal_lsgan_d": {
        "the BCE optimum, targets ignored": "return p_data / (p_data + p_g)",
        "targets swapped": "return (a * p_data + b * p_g) / (p_data + p_g)",
        "not normalised": "return b * p_data + a * p_g",
        "the fake target forgotten": "return b * p_data / (p_data + p_g)",
        "the midpoint of the targets": "return torch.full_like(p_data, (a + b) / 2)",
        "densities squared": "return (b * p_data ** 2 + a * p_g ** 2) / (p_data ** 2 + p_g ** 2)",
    },
}
