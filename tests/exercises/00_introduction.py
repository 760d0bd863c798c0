"""Plausible wrong answers to chapter 0's exercises. ``python -m ganlib.student --check`` puts
each in place of the solution and requires the exercise's visible check to fail on it."""

WRONG = {
    "my_d_loss": {
        "real and fake swapped": """
            return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()
        """,
        "sum over the batch instead of the mean": """
            return F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()
        """,
        "the real term only": """
            return F.softplus(-real_logits).mean()
        """,
        "log of the sigmoid (unstable)": """
            return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())
        """,
        "the library's BCE called": """
            return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        """,
    },
    "count_modes": {
        "radius 1 std": """
            nearest, which = torch.cdist(samples, centres).min(dim=1)
            counts = torch.bincount(which[nearest <= std], minlength=len(centres))
            return int((counts >= min_fraction * len(samples)).sum())
        """,
        "radius 10 std": """
            nearest, which = torch.cdist(samples, centres).min(dim=1)
            counts = torch.bincount(which[nearest <= 10 * std], minlength=len(centres))
            return int((counts >= min_fraction * len(samples)).sum())
        """,
        "every centre in reach counts a sample (no nearest centre)": """
            counts = (torch.cdist(samples, centres) <= 3 * std).sum(dim=0)
            return int((counts >= min_fraction * len(samples)).sum())
        """,
        "fraction of the samples near a centre": """
            nearest, which = torch.cdist(samples, centres).min(dim=1)
            good = nearest <= 3 * std
            counts = torch.bincount(which[good], minlength=len(centres))
            return int((counts >= min_fraction * good.sum()).sum())
        """,
        "strictly more than min_fraction": """
            nearest, which = torch.cdist(samples, centres).min(dim=1)
            counts = torch.bincount(which[nearest <= 3 * std], minlength=len(centres))
            return int((counts > min_fraction * len(samples)).sum())
        """,
    },
}
