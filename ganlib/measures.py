"""Every measure the book reports, in one place, by chapter.

Each measure is written beside what it needs to know (a data set's ground truth lives with the data
set, a model's evaluation with the model, the sample-quality metrics in :mod:`ganlib.metrics`);
this module is the index a reader looks in: ``from ganlib.measures import fid, ring_mode_coverage``.
The names are the very same objects as at their homes.

======================  ===================================  ==========================================
chapter                 measure                              what it says
======================  ===================================  ==========================================
0 introduction          :func:`ring_mode_coverage`           modes of the ring covered, share of
                                                             high-quality samples (toy ground truth)
                        :func:`judge_unconditional`          the digit judge's classes covered, class
                                                             spread (e^H) and confidence
1 cGAN, 2 AC-GAN        :func:`pretrained_classifier`        the judge: a digit classifier trained on
                                                             real images (cached)
                        :func:`evaluate_accuracy`            the judge's accuracy on labelled images
                        :func:`conditional_accuracy`         share of samples judged their label
                        :func:`intra_class_diversity`        within-class spread in judge features
                        :func:`measure_images`               the chapters' table row: accuracy,
                                                             confidence, diversities, precision, recall
                        :func:`measure_digits`               that row for a generator's samples
                        :func:`measure_real_digits`          that row for the real test digits
                        :func:`boundary_measures`            the overlapping toy's ground truth: where
                                                             samples fall against the class boundary
                        :func:`measure_overlap`              that for a generator's samples
3 Pix2Pix               :func:`evaluate_paired_translation`  L1, PSNR, sharpness (``hf_ratio``)
                        :func:`high_frequency_energy`        the sharpness behind ``hf_ratio``
                        :func:`label_consistency`            a segmenter's accuracy / IoU on G(A)
                        :func:`dropout_spread`               how much dropout varies the output
                        :func:`measure_pix2pix`              the chapter's table row
4 CycleGAN              :func:`evaluate_cyclegan`            realism, content L1, cycle L1
                        :func:`silhouette_iou`               shape kept through the translation
                        :func:`real_vs_fake_accuracy`        how well a fresh classifier tells fakes
5 BicycleGAN            :func:`fill_mode_coverage`           distinct valid fills per input (toy
                                                             ground truth), share valid
                        :func:`mode_balance`                 KL of the fills' frequencies to uniform
                        :func:`diversity`                    pairwise distance of one input's samples
                        :func:`latent_recovery`              how well E reads z back from G(A, z)
                        :func:`latent_statistics`            the codes against the N(0, I) prior
                        :func:`evaluate_shapes`              the chapter's table row
6 SAGAN / BigGAN        :func:`measure_generator`            accuracy, judge-feature FID, diversity,
                                                             confidence, precision, recall
7 FID / IS / KID        :func:`fid`                          Frechet distance of feature statistics
                        :func:`inception_score`              IS (``splits`` as the reference code)
                        :func:`kernel_inception_distance`    KID, unbiased MMD^2, with its spread
                        :func:`precision_recall`             k-NN precision and recall
                        :func:`density_coverage`             density and coverage
                        :func:`fid_inception_extractor`      the published FID network
                        :func:`offline_extractor`            the offline stand-in (not comparable
                                                             with published FIDs)
======================  ===================================  ==========================================
"""

from .classifier import conditional_accuracy, evaluate_accuracy, intra_class_diversity, pretrained_classifier
from .conditional_protocol import measure_digits, measure_images, measure_overlap, measure_real_digits
from .data.multimodal_shapes import fill_mode_coverage, mode_balance
from .data.overlap2d import boundary_measures
from .data.toy2d import ring_mode_coverage
from .data.unpaired_shapes import silhouette_iou
from .metrics import (
    density_coverage,
    fid,
    fid_inception_extractor,
    inception_score,
    kernel_inception_distance,
    offline_extractor,
    precision_recall,
)
from .models.bicyclegan import diversity, evaluate_shapes, latent_recovery, latent_statistics
from .models.biggan import measure_generator
from .models.cyclegan import evaluate_cyclegan, real_vs_fake_accuracy
from .models.facade_segmenter import label_consistency
from .models.mlp_gan import judge_unconditional
from .models.pix2pix import dropout_spread, evaluate_paired_translation, high_frequency_energy, measure_pix2pix

__all__ = [
    # chapter 0
    "ring_mode_coverage",
    "judge_unconditional",
    # chapters 1 and 2
    "pretrained_classifier",
    "evaluate_accuracy",
    "conditional_accuracy",
    "intra_class_diversity",
    "measure_images",
    "measure_digits",
    "measure_real_digits",
    "boundary_measures",
    "measure_overlap",
    # chapter 3
    "evaluate_paired_translation",
    "high_frequency_energy",
    "label_consistency",
    "dropout_spread",
    "measure_pix2pix",
    # chapter 4
    "evaluate_cyclegan",
    "silhouette_iou",
    "real_vs_fake_accuracy",
    # chapter 5
    "fill_mode_coverage",
    "mode_balance",
    "diversity",
    "latent_recovery",
    "latent_statistics",
    "evaluate_shapes",
    # chapter 6
    "measure_generator",
    # chapter 7
    "fid",
    "inception_score",
    "kernel_inception_distance",
    "precision_recall",
    "density_coverage",
    "fid_inception_extractor",
    "offline_extractor",
]
