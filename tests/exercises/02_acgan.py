"""Plausible wrong answers to chapter 2's exercises (see ganlib.student)."""

_SMOOTHED = """
    l_s = (F.binary_cross_entropy_with_logits(real_source, torch.full_like(real_source, {real}))
           + F.binary_cross_entropy_with_logits(fake_source, torch.full_like(fake_source, {fake})))
    l_c = (F.cross_entropy(real_class_logits, real_labels{ls})
           + F.cross_entropy(fake_class_logits, fake_labels{ls}))
    return l_s + l_c
"""
_RIGHT = dict(real="smooth", fake="0.0", ls="")


def _smoothed(**wrong):
    return _SMOOTHED.format(**{**_RIGHT, **wrong})


WRONG = {
    "class_loss_gradient": {
        "not divided by N": """
            return torch.softmax(class_logits, dim=1) - F.one_hot(labels, class_logits.shape[1]).float()
        """,
        "sign flipped": """
            return ((F.one_hot(labels, class_logits.shape[1]).float() - torch.softmax(class_logits, dim=1))
                    / len(class_logits))
        """,
        "softmax over the batch": """
            return ((torch.softmax(class_logits, dim=0) - F.one_hot(labels, class_logits.shape[1]).float())
                    / len(class_logits))
        """,
        "sigmoids for the softmax": """
            return (torch.sigmoid(class_logits) - F.one_hot(labels, class_logits.shape[1]).float()) / len(class_logits)
        """,
        "only the label's logit": """
            return -F.one_hot(labels, class_logits.shape[1]).float() / len(class_logits)
        """,
        "autograd": """
            c = class_logits.detach().requires_grad_(True)
            return torch.autograd.grad(F.cross_entropy(c, labels), c)[0]
        """,
    },
    "d_loss_smoothed": {
        "no smoothing": _smoothed(real="1.0"),
        "both sides smoothed": _smoothed(fake="1 - smooth"),
        "the fakes smoothed instead": _smoothed(real="1.0", fake="1 - smooth"),
        "real target 1 - smooth": _smoothed(real="1 - smooth"),
        "class labels smoothed too": _smoothed(ls=", label_smoothing=1 - smooth"),
        "smooth fixed at 0.9": _smoothed(real="0.9"),
        "the library's loss adjusted": """
            from ganlib.models.acgan import acgan_d_loss
            return acgan_d_loss(real_source, fake_source, real_class_logits, real_labels,
                                fake_class_logits, fake_labels)
        """,
    },
}
