"""Augmented views for contrastive learning.

:class:`BatchAugment` works on a whole batch of in-memory images at once, on any device (CPU or
GPU): random resized crop + translation (one affine ``grid_sample``), horizontal flip, and
brightness/contrast jitter, all drawn from a ``torch.Generator`` so a seed fixes every view. On a
GPU the dataset stays on the device and an epoch is bounded by the model, not a loader. Image-file
datasets (ISIC 2018) are resized into memory first, so they take the same path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from imbalanced_contrastive.data.catalogue import dataset_spec

AUGMENTATIONS: dict[str, dict[str, float | tuple[float, float]]] = {
    # the quick profile's: short CPU schedules on 28-pixel images learn more from views that keep
    # the garment whole (benchmarks/README.md: +1.8 to +6.3 points of balanced accuracy over
    # "strong" for CE, AFCL, ResCom and BCL in a short schedule)
    "light": dict(scale=(0.9, 1.0), max_translate=0.1, jitter=0.1),
    # SimCLR-like crops and jitter, for long schedules (the paper profile)
    "strong": dict(scale=(0.5, 1.0), max_translate=0.1, jitter=0.4),
}
"""Named view augmentations (the config's ``augmentation``): :class:`BatchAugment` arguments; flips
are the dataset's (:attr:`~imbalanced_contrastive.data.catalogue.DatasetSpec.flip`)."""


def to_float(images: torch.Tensor, dataset: str) -> torch.Tensor:
    """``uint8 [B, C, H, W]`` -> standardised ``float32 [B, C, H, W]`` with the dataset's statistics
    (:attr:`~imbalanced_contrastive.data.catalogue.DatasetSpec.normalization`).

    The statistics are Python numbers applied channel by channel, so no constant tensor is built
    or copied to the device at each call."""
    mean, std = dataset_spec(dataset).normalization
    x = images.float().div_(255.0)
    if x.shape[1] != len(mean):
        raise ValueError(f"{dataset} images have {len(mean)} channel(s); got a batch of shape {tuple(x.shape)}")
    for c, (m, s) in enumerate(zip(mean, std, strict=True)):
        x[:, c].sub_(m).div_(s)
    return x


VIEW_PARAMETERS = ("area", "flip", "translate_x", "translate_y", "brightness", "contrast")
"""The uniform draws behind one view of one image (rows of :meth:`BatchAugment.draw`)."""


class BatchAugment:
    """Random views of a batch, computed on the batch's device.

    A view is made in two steps: :meth:`draw` takes the random numbers from a CPU
    ``torch.Generator`` (so a seed gives the same views on the CPU and a GPU), and :meth:`apply`
    turns them into the view on the images' device. The training loop draws a whole epoch's
    numbers at once and copies them to the device in one transfer.

    Args:
        scale: range of the crop area as a fraction of the image (RandomResizedCrop-like).
        max_translate: largest shift as a fraction of the side.
        flip: apply random horizontal flips (off for digits/letters, on for clothes and lesions).
        jitter: strength of the brightness/contrast jitter (0 disables it).
    """

    def __init__(
        self,
        scale: tuple[float, float] = (0.6, 1.0),
        max_translate: float = 0.125,
        flip: bool = True,
        jitter: float = 0.4,
    ) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1; got {scale}")
        if not 0 <= max_translate < 1:
            raise ValueError(f"max_translate must be in [0, 1); got {max_translate}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0; got {jitter}")
        self.scale, self.max_translate, self.flip, self.jitter = scale, max_translate, flip, jitter

    def draw(self, b: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The random numbers of ``b`` views, drawn on the CPU in a fixed order.

        Returns:
            ``float32 [6, b]`` uniforms in ``[0, 1)``, one row per :data:`VIEW_PARAMETERS` entry;
            the flip row is 1 (no flip) without flips and the jitter rows are 0.5 (no change)
            without jitter (those rows draw nothing from ``generator``).
        """
        area = torch.rand(b, generator=generator)
        flip = torch.rand(b, generator=generator) if self.flip else torch.ones(b)
        tx = torch.rand(b, generator=generator)
        ty = torch.rand(b, generator=generator)
        if self.jitter > 0:
            brightness = torch.rand(b, generator=generator)
            contrast = torch.rand(b, generator=generator)
        else:
            brightness = contrast = torch.full((b,), 0.5)
        return torch.stack([area, flip, tx, ty, brightness, contrast])

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """The views of ``x`` (``float [B, C, H, W]``, standardised) for the draws ``params``
        (``[6, B]`` from :meth:`draw`, on ``x``'s device); returns the shape of ``x``."""
        b = x.shape[0]
        if params.shape != (len(VIEW_PARAMETERS), b):
            raise ValueError(f"params must have shape [{len(VIEW_PARAMETERS)}, {b}]; got {tuple(params.shape)}")
        u_area, u_flip, u_tx, u_ty, u_brightness, u_contrast = params.to(x.device)
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u_area
        side = area.sqrt()  # keep the aspect ratio: zoom factor per sample
        sign = torch.where(u_flip < 0.5, -1.0, 1.0)
        room = (1 - side) + 2 * self.max_translate
        tx = (u_tx * 2 - 1) * room
        ty = (u_ty * 2 - 1) * room
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = side * sign
        theta[:, 1, 1] = side
        theta[:, 0, 2] = tx
        theta[:, 1, 2] = ty
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        fill = x.amin(dim=(1, 2, 3), keepdim=True)
        out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
        if self.jitter > 0:
            brightness = (u_brightness * 2 - 1).mul_(self.jitter).view(b, 1, 1, 1)
            contrast = (1 + (u_contrast * 2 - 1) * self.jitter).view(b, 1, 1, 1)
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (out - mean) * contrast + mean + brightness
        return out

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment ``x`` (``float [B, C, H, W]``, standardised): :meth:`draw` then :meth:`apply`."""
        return self.apply(x, self.draw(x.shape[0], generator).to(x.device))


def named_augmentation(name: str, dataset: str) -> BatchAugment:
    """The augmentation ``name`` (one of :data:`AUGMENTATIONS`) for ``dataset``, with flips where the
    dataset allows them."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {tuple(AUGMENTATIONS)}; got {name!r}")
    return BatchAugment(flip=dataset_spec(dataset).flip, **AUGMENTATIONS[name])  # type: ignore[arg-type]


def make_views(
    x: torch.Tensor, n_views: int, augment: BatchAugment | None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Stack ``n_views`` independent augmentations of ``x``.

    Args:
        x: standardised images. Shape: ``[B, C, H, W]``.
        n_views: number of views (>= 1); the two- and three-view pipelines of the papers use 2 and 3.
        augment: the augmentation, or ``None`` to repeat ``x`` unchanged.

    Returns:
        Views. Shape: ``[B, n_views, C, H, W]``.
    """
    if n_views < 1:
        raise ValueError(f"n_views must be >= 1; got {n_views}")
    views = [x if augment is None else augment(x, generator) for _ in range(n_views)]
    return torch.stack(views, dim=1)


def apply_views(
    x: torch.Tensor, augment: BatchAugment | None, params: torch.Tensor | None, n_views: int
) -> torch.Tensor:
    """The views of ``x`` for pre-drawn numbers: ``params`` ``[n_views, 6, B]`` (from
    :meth:`BatchAugment.draw`, on ``x``'s device), or ``x`` repeated when ``augment`` is ``None``.

    Returns:
        Views. Shape: ``[B, n_views, C, H, W]``; equal to :func:`make_views` with a generator that
        produced ``params``.
    """
    if augment is None or params is None:
        return x.unsqueeze(1).expand(-1, n_views, *x.shape[1:])
    return torch.stack([augment.apply(x, params[v]) for v in range(n_views)], dim=1)
