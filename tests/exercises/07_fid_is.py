"""Plausible wrong answers to chapter 7's exercises (see ganlib.student)."""

_IS = """
    logits = np.asarray(logits, dtype=np.float64)
    p = {probs}
    n, scores = len(p), []
    for i in range(splits):
        q = {chunk}
        m = {marginal}
        kl = {kl}
        scores.append({score})
    return float(np.mean(scores)), float(np.std(scores{ddof}))
"""
_RIGHT = dict(
    probs="np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)",
    chunk="p[i * n // splits:(i + 1) * n // splits]",
    marginal="q.mean(axis=0, keepdims=True)",
    kl="np.sum(q * (np.log(q) - np.log(m)), axis=1)",
    score="np.exp(np.mean(kl))",
    ddof="",
)


def _is(**wrong):
    return _IS.format(**{**_RIGHT, **wrong})


WRONG = {
    "fid_diagonal": {
        "variances for standard deviations": "return float(np.sum((mu1 - mu2) ** 2) + np.sum((var1 - var2) ** 2))",
        "differences of the standard deviations not squared": "return float(np.sum((mu1 - mu2) ** 2) + np.sum(np.abs(np.sqrt(var1) - np.sqrt(var2))))",
        "mean over dimensions": "return float(np.mean((mu1 - mu2) ** 2) + np.mean((np.sqrt(var1) - np.sqrt(var2)) ** 2))",
        "distance of the means not squared": "return float(np.linalg.norm(mu1 - mu2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2))",
        "the library's FID": """
            import ganlib.metrics as metrics
            return metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
        """,
    },
    "inception_score_splits": {
        "no softmax (logits taken for probabilities)": _is(probs="logits"),
        "KL reversed": _is(kl="np.sum(m * (np.log(m) - np.log(q)), axis=1)"),
        "interleaved splits": _is(chunk="p[i::splits]"),
        "one marginal over all rows": _is(marginal="p.mean(axis=0, keepdims=True)"),
        "the mean of exp(KL) per image": _is(score="np.mean(np.exp(kl))"),
        "sample std (ddof=1)": _is(ddof=", ddof=1"),
        "splits ignored": """
            p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            m = p.mean(axis=0, keepdims=True)
            return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(m)), axis=1)))), 0.0
        """,
        "the library's score": """
            import ganlib.metrics as metrics
            return metrics.inception_score(logits, splits=splits)
        """,
    },
    "expected_mean_term": {
        "one sample's noise only": "return float(np.trace(cov) / n)",
        "all entries of the covariance": "return float(2 * cov.sum() / n)",
        "the identity assumed": "return float(2 * len(cov) / n)",
        "n - 1": "return float(2 * np.trace(cov) / (n - 1))",
        "unbiased, so zero": "return 0.0",
        "a simulation": """
            draws = np.random.default_rng(1).multivariate_normal(np.zeros(len(cov)), cov, size=(500, 2, n)).mean(axis=2)
            return float(((draws[:, 0] - draws[:, 1]) ** 2).sum(axis=1).mean())
        """,
    },
}
