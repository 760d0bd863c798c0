"""Plausible wrong answers to chapter 2's exercises (see ganlib.student)."""

WRONG = {
    "g_loss": {
        "BCE target 0": """
            adversarial = F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source))
            return adversarial + F.cross_entropy(fake_class_logits, fake_labels)
        """,
        "saturating loss": """
            adversarial = -F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source))
            return adversarial + F.cross_entropy(fake_class_logits, fake_labels)
        """,
        "class term missing": """
            return F.binary_cross_entropy_with_logits(fake_source, torch.ones_like(fake_source))
        """,
        "double softmax": """
            adversarial = F.binary_cross_entropy_with_logits(fake_source, torch.ones_like(fake_source))
            return adversarial + F.cross_entropy(torch.softmax(fake_class_logits, 1), fake_labels)
        """,
        "nll_loss on logits (no log-softmax)": """
            adversarial = F.binary_cross_entropy_with_logits(fake_source, torch.ones_like(fake_source))
            return adversarial + F.nll_loss(fake_class_logits, fake_labels)
        """,
        "the library's loss called": """
            from ganlib.models.acgan import acgan_g_loss
            return acgan_g_loss(fake_source, fake_class_logits, fake_labels)
        """,
    },
    "d_loss": {
        "real and fake source targets swapped": """
            l_s = (F.binary_cross_entropy_with_logits(real_source, torch.zeros_like(real_source))
                   + F.binary_cross_entropy_with_logits(fake_source, torch.ones_like(fake_source)))
            return l_s + F.cross_entropy(real_class_logits, real_labels) + F.cross_entropy(fake_class_logits, fake_labels)
        """,
        "class loss on the reals only": """
            l_s = (F.binary_cross_entropy_with_logits(real_source, torch.ones_like(real_source))
                   + F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source)))
            return l_s + F.cross_entropy(real_class_logits, real_labels)
        """,
        "fake class logits against the real labels": """
            l_s = (F.binary_cross_entropy_with_logits(real_source, torch.ones_like(real_source))
                   + F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source)))
            return l_s + F.cross_entropy(real_class_logits, real_labels) + F.cross_entropy(fake_class_logits, real_labels)
        """,
        "source terms averaged": """
            l_s = 0.5 * (F.binary_cross_entropy_with_logits(real_source, torch.ones_like(real_source))
                         + F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source)))
            return l_s + F.cross_entropy(real_class_logits, real_labels) + F.cross_entropy(fake_class_logits, fake_labels)
        """,
        "the library's loss called": """
            from ganlib.models.acgan import acgan_d_loss
            return acgan_d_loss(real_source, fake_source, real_class_logits, real_labels, fake_class_logits, fake_labels)
        """,
    },
}
