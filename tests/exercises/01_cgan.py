"""Plausible wrong answers to chapter 1's exercises (see ganlib.student)."""

WRONG = {
    "projection_logits": {
        "the bias left out": "return h @ w + (V[y] * h).sum(dim=1)",
        "mean over features instead of the inner product": "return h @ w + b + (V[y] * h).mean(dim=1)",
        "every class's projection summed": "return h @ w + b + (h @ V.T).sum(dim=1)",
        "V not indexed by the labels": "return h @ w + b + (V * h).sum(dim=1)",
        "the class embedding without h": "return h @ w + b + V[y].sum(dim=1)",
    },
    "join_label": {
        "label before the pixels": "return torch.cat([F.one_hot(y, num_classes).to(x.dtype), x.flatten(1)], dim=1)",
        "one_hot without num_classes": "return torch.cat([x.flatten(1), F.one_hot(y).to(x.dtype)], dim=1)",
        "the label as one number": "return torch.cat([x.flatten(1), y[:, None].to(x.dtype)], dim=1)",
        "channels-last flattening": """
            return torch.cat([x.permute(0, 2, 3, 1).flatten(1), F.one_hot(y, num_classes).to(x.dtype)], dim=1)
        """,
    },
}
