"""Building blocks that several chapters' models share, one module for each kind of part.

- ``layers``: the normalisation factory ``norm_layer`` and the initialisation ``init_weights``
  of the official pix2pix / CycleGAN / BicycleGAN code;
- ``unet``: the U-Net generator of pix2pix (and BicycleGAN, with a latent code);
  ``unet_official``: reading the official pix2pix U-Net checkpoints into it;
- ``patchgan``: the PatchGAN discriminator and its receptive field;
- ``resnet_encoder``: BicycleGAN's encoder E;
- ``checkpoints``: ``read_state_dict``; ``schedules``: the ``linear_decay`` learning-rate rule;
- ``labels``: checks of class labels and images, label sampling (class-conditional models);
- ``bodies``: the MLP and convolutional bodies of the conditional discriminators;
- ``projection``: the projection discriminator's output layer ``ProjectionHead``.

The chapter modules (``ganlib.models.pix2pix``, ``cgan``...) re-export what they use, so
``ganlib.models.X`` and ``from ganlib.models.pix2pix import X`` keep working.
"""

# Nothing listed here: ``ganlib.models`` finds each name through a chapter module's ``__all__``.
__all__: list = []
