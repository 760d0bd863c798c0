"""Plausible wrong answers to chapter 6's exercises (see ganlib.student)."""

WRONG = {
    "my_truncated_normal": {
        "clipped": "return torch.randn(n, dim, generator=generator).clamp(-t, t)",
        "folded back (t^2 / z)": """
            z = torch.randn(n, dim, generator=generator)
            return torch.where(z.abs() > t, t * t / z, z)
        """,
        "resampled once": """
            z = torch.randn(n, dim, generator=generator)
            outside = z.abs() > t
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            return z
        """,
        "wrapped with fmod": "return torch.fmod(torch.randn(n, dim, generator=generator), t)",
        "uniform on [-t, t]": "return (2 * torch.rand(n, dim, generator=generator) - 1) * t",
        "the generator ignored": """
            z = torch.randn(n, dim)
            outside = z.abs() > t
            while outside.any():
                z[outside] = torch.randn(int(outside.sum()))
                outside = z.abs() > t
            return z
        """,
        "PyTorch's trunc_normal_ (inverse CDF, not resampling)": """
            return torch.nn.init.trunc_normal_(torch.empty(n, dim), a=-t, b=t, generator=generator)
        """,
        "the library's sampler": """
            from ganlib.nn import truncated_noise
            return truncated_noise(n, dim, t, generator=generator)
        """,
    },
    "my_hinge_d_loss": {
        "signs swapped": "return torch.relu(1 + d_real).mean() + torch.relu(1 - d_fake).mean()",
        "no max(0, .)": "return (1 - d_real).mean() + (1 + d_fake).mean()",
        "sums": "return torch.relu(1 - d_real).sum() + torch.relu(1 + d_fake).sum()",
        "one mean over reals and fakes together": "return torch.cat([torch.relu(1 - d_real), torch.relu(1 + d_fake)]).mean()",
        "margin forgotten": "return torch.relu(-d_real).mean() + torch.relu(d_fake).mean()",
        "the library's hinge loss": """
            from ganlib.losses import d_loss_hinge
            return d_loss_hinge(d_real, d_fake)
        """,
    },
}
