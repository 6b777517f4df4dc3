"""Encoders, heads and batched views."""

from __future__ import annotations

import pytest
import torch

from imbalanced_contrastive.data import BatchAugment, make_views, to_float
from imbalanced_contrastive.data.views import AUGMENTATIONS, named_augmentation
from imbalanced_contrastive.models import LinearClassifier, ProjectionHead, build_encoder


@pytest.mark.parametrize(
    "name, channels, size, dim",
    [("small_cnn", 1, 28, 128), ("resnet32", 3, 32, 64), ("resnet18", 3, 32, 512), ("resnet18", 1, 28, 512)],
)
def test_encoder_shapes(name, channels, size, dim):
    enc = build_encoder(name, channels)
    out = enc(torch.randn(3, channels, size, size))
    assert out.shape == (3, dim) == (3, enc.feature_dim)


@pytest.mark.parametrize("name, channels", [("small_cnn", 1), ("resnet32", 3), ("resnet18", 3)])
def test_encoders_compute_channels_last_and_agree_with_the_default_layout(name, channels):
    torch.manual_seed(0)
    enc = build_encoder(name, channels).eval()
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    x = torch.randn(4, channels, 28, 28)
    reference = build_encoder(name, channels).eval()
    reference.load_state_dict(enc.state_dict())
    reference.to(memory_format=torch.contiguous_format)
    assert all(m.weight.is_contiguous() for m in reference.modules() if isinstance(m, torch.nn.Conv2d))
    torch.testing.assert_close(enc(x), reference(x), atol=1e-4, rtol=1e-4)


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


def test_named_augmentations_follow_the_dataset():
    light = named_augmentation("light", "fmnist")
    assert (light.scale, light.max_translate, light.jitter, light.flip) == (
        AUGMENTATIONS["light"]["scale"],
        AUGMENTATIONS["light"]["max_translate"],
        AUGMENTATIONS["light"]["jitter"],
        True,
    )
    assert named_augmentation("strong", "cifar10").scale == (0.5, 1.0)
    x = to_float(torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8), "fmnist")
    g = torch.Generator().manual_seed(0)
    moved = {n: (named_augmentation(n, "fmnist")(x, g) - x).abs().mean().item() for n in AUGMENTATIONS}
    assert 0 < moved["light"] < moved["strong"]  # light views stay closer to the image
    with pytest.raises(ValueError, match=r"augmentation must be one of \('light', 'strong'\); got 'heavy'"):
        named_augmentation("heavy", "fmnist")


def test_view_arguments_are_validated():
    with pytest.raises(ValueError, match="n_views"):
        make_views(torch.zeros(1, 1, 4, 4), 0, None)
    with pytest.raises(ValueError, match="scale"):
        BatchAugment(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="dataset must be one of"):
        to_float(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), "imagenet")
