"""Plausible wrong answers to chapter 1's exercises (see ganlib.student)."""

WRONG = {
    "projection_logits": {
        "the bias left out": "return h @ w + (V[y] * h).sum(dim=1)",
        "mean over features instead of the inner product": "return h @ w + b + (V[y] * h).mean(dim=1)",
        "every class's projection summed": "return h @ w + b + (h @ V.T).sum(dim=1)",
        "V not indexed by the labels": "return h @ w + b + (V * h).sum(dim=1)",
        "the class embedding without h": "return h @ w + b + V[y].sum(dim=1)",
    },
    "first_layer_without_one_hot": {
        "the class offset P forgotten": """
            pixels = x.flatten(1)
            return pixels @ W[:, :pixels.shape[1]].T + W[:, y].T + b
        """,
        "the bias left out": """
            pixels = x.flatten(1)
            P = pixels.shape[1]
            return pixels @ W[:, :P].T + W[:, P + y].T
        """,
        "every class column summed": """
            pixels = x.flatten(1)
            P = pixels.shape[1]
            return pixels @ W[:, :P].T + W[:, P:].sum(1) + b
        """,
        "class columns not transposed": """
            pixels = x.flatten(1)
            P = pixels.shape[1]
            return pixels @ W[:, :P].T + W[:, P + y] + b
        """,
        "the one-hot vector built after all": """
            K = W.shape[1] - x.flatten(1).shape[1]
            return torch.cat([x.flatten(1), F.one_hot(y, K).float()], 1) @ W.T + b
        """,
    },
}
