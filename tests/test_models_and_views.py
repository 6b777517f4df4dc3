"""Encoders, heads and batched views."""

from __future__ import annotations

import pytest
import torch

from imbalanced_contrastive.data import BatchAugment, make_views, to_float
from imbalanced_contrastive.models import LinearClassifier, ProjectionHead, build_encoder


@pytest.mark.parametrize(
    "name, channels, size, dim",
    [("small_cnn", 1, 28, 128), ("resnet32", 3, 32, 64), ("resnet18", 3, 32, 512), ("resnet18", 1, 28, 512)],
)
def test_encoder_shapes(name, channels, size, dim):
    enc = build_encoder(name, channels)
    out = enc(torch.randn(3, channels, size, size))
    assert out.shape == (3, dim) == (3, enc.feature_dim)


def test_resnet32_has_the_papers_size():
    n = sum(p.numel() for p in build_encoder("resnet32", 3).parameters())
    assert 0.45e6 < n < 0.48e6  # ResNet-32 for CIFAR has about 0.46M parameters (He et al. 2016)


def test_unknown_encoder():
    with pytest.raises(ValueError, match="encoder must be one of"):
        build_encoder("vgg", 3)


def test_projection_head_is_unit_norm():
    z = ProjectionHead(64, 16)(torch.randn(5, 64))
    assert z.shape == (5, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    assert LinearClassifier(64, 7)(torch.randn(2, 64)).shape == (2, 7)


def test_batch_augment_is_seeded_and_keeps_shape():
    x = to_float(torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8), "fmnist")
    aug = BatchAugment()
    v1 = make_views(x, 3, aug, torch.Generator().manual_seed(0))
    v2 = make_views(x, 3, aug, torch.Generator().manual_seed(0))
    assert v1.shape == (8, 3, 1, 28, 28)
    assert torch.equal(v1, v2)
    assert not torch.allclose(v1[:, 0], v1[:, 1])  # views differ from each other
    assert torch.isfinite(v1).all()


def test_identity_augment_reproduces_input():
    x = torch.randn(4, 3, 16, 16)
    aug = BatchAugment(scale=(1.0, 1.0), max_translate=0.0, flip=False, jitter=0.0)
    torch.testing.assert_close(aug(x, torch.Generator().manual_seed(1)), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(make_views(x, 2, None)[:, 1], x)


def test_view_arguments_are_validated():
    with pytest.raises(ValueError, match="n_views"):
        make_views(torch.zeros(1, 1, 4, 4), 0, None)
    with pytest.raises(ValueError, match="scale"):
        BatchAugment(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="dataset must be one of"):
        to_float(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), "imagenet")
