"""Plausible wrong answers to chapter 5's exercises (see ganlib.student)."""

WRONG = {
    "kl_diagonal": {
        "summed over dimensions, averaged over the batch": """
            per_sample = 0.5 * torch.sum(logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2) ** 2) / logvar2.exp() - 1,
                                         dim=1)
            return per_sample.mean()
        """,
        "the reverse KL(p || q)": """
            return 0.5 * torch.sum(logvar1 - logvar2 + (logvar2.exp() + (mu1 - mu2) ** 2) / logvar1.exp() - 1)
        """,
        "log ratio upside down": """
            return 0.5 * torch.sum(logvar1 - logvar2 + (logvar1.exp() + (mu1 - mu2) ** 2) / logvar2.exp() - 1)
        """,
        "not divided by sigma2^2": """
            return 0.5 * torch.sum(logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2) ** 2) - 1)
        """,
        "standard deviations for variances": """
            return 0.5 * torch.sum(logvar2 - logvar1 + ((0.5 * logvar1).exp() + (mu1 - mu2) ** 2)
                                   / (0.5 * logvar2).exp() - 1)
        """,
        "the 1/2 forgotten": """
            return torch.sum(logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2) ** 2) / logvar2.exp() - 1)
        """,
        "the chapter's KL to N(0, I)": """
            from ganlib.models.bicyclegan import kl_divergence
            return kl_divergence(mu1, logvar1)
        """,
        "the KL to N(0, I) written out": """
            return -0.5 * torch.sum(1 + logvar1 - mu1 ** 2 - logvar1.exp())
        """,
    },
    "best_constant_lr_loss": {
        "the standard deviation": "return float(sigma)",
        "summed over the dimensions": "return nz * sigma * math.sqrt(2 / math.pi)",
        "the std of |z|": "return sigma * math.sqrt(1 - 2 / math.pi)",
        "the density at 0": "return sigma / math.sqrt(2 * math.pi)",
        "sigma forgotten": "return math.sqrt(2 / math.pi)",
        "a Monte Carlo estimate": "return float(torch.randn(100_000, nz).abs().mean()) * sigma",
        "L2 (the variance)": "return float(sigma ** 2)",
    },
    "mean_distinct_modes": {
        "-1 counted as a mode": "return sum(len(set(row.tolist())) for row in modes) / len(modes)",
        "modes of all inputs together": "return len(set(modes.flatten().tolist()) - {-1}) / len(modes)",
        "averaged over samples, not inputs": "return sum(len(set(row.tolist()) - {-1}) for row in modes) / modes.shape[1]",
        "the largest count": "return max(len(set(row.tolist()) - {-1}) for row in modes)",
    },
}
