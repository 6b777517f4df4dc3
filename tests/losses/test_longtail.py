"""BCL, RCL (reconstruction), LA-CE / Balanced Softmax and ResCom against loop references, golden
values (worked out by hand from spec-bcl-losses, spec-rcl-reconstruction and
spec-rescom-losses in book/paper_specs.md), reductions, gradients and a fuzz grid."""

from __future__ import annotations

import itertools
import math

import pytest
import reference
import torch
import torch.nn.functional as F

from imbalanced_contrastive.data import long_tail_counts
from imbalanced_contrastive.losses import (
    BalancedContrastiveLoss,
    BalancedSoftmaxLoss,
    ClassBalancedQueue,
    ClassBalancedSupConLoss,
    LogitAdjustedCrossEntropy,
    RebalancedContrastiveLoss,
    SiameseBalancedSoftmaxLoss,
    SupConLoss,
    effective_number_weights,
    get_loss,
)

COUNTS = [500, 100, 5]


@pytest.fixture
def toy():
    """A hand-worked BCL case: N = 3 images, labels (0, 0, 1), C = 3, prototypes e1, e2, e3."""
    v2 = torch.tensor([[1, 0.2, 0], [0.9, -0.1, 0.1], [0, 1, 0.2]], dtype=torch.float64)
    v3 = torch.tensor([[0.8, 0.3, 0.1], [1, 0, -0.2], [0.1, 0.9, 0]], dtype=torch.float64)
    return F.normalize(torch.stack([v2, v3], 1), dim=-1), torch.tensor([0, 0, 1]), torch.eye(3, dtype=torch.float64)


def test_bcl_golden_values(toy):
    f, y, c = toy
    assert BalancedContrastiveLoss(0.1)(f, y, c).item() == pytest.approx(0.0335999390, abs=1e-9)
    assert BalancedContrastiveLoss(0.07)(f, y, c).item() == pytest.approx(0.0648260066, abs=1e-9)
    assert BalancedContrastiveLoss(0.1)(f, y).item() == pytest.approx(0.0314865506, abs=1e-9)  # class-averaging only
    assert SupConLoss(0.1, 0.1)(f, y).item() == pytest.approx(0.7646807425, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs, golden",
    [
        ({"balance_strength": 1.0}, 0.0338455092),
        ({"margin": 0.1}, 0.0342161939),
        ({"feature_scale": math.sqrt(2)}, 0.1237461348),
        ({"balance_strength": 1.0, "margin": 0.1, "feature_scale": math.sqrt(2)}, 0.1237495839),
    ],
)
def test_rcl_golden_values(toy, kwargs, golden):
    f, y, c = toy
    loss = RebalancedContrastiveLoss(COUNTS, 0.1, **{"balance_strength": 0.0, **kwargs})
    assert loss(f, y, c).item() == pytest.approx(golden, abs=1e-9)


def test_rcl_margins_follow_ldam_law():
    loss = RebalancedContrastiveLoss(COUNTS, margin=0.1)
    torch.testing.assert_close(
        loss.margins, torch.tensor([0.031623, 0.047287, 0.1], dtype=torch.float64), atol=1e-6, rtol=0
    )


def test_la_ce_golden_and_reductions():
    logits = torch.tensor([[2, 0.5, -1], [0.1, 0.3, 0.2]], dtype=torch.float64)
    t = torch.tensor([0, 2])
    assert LogitAdjustedCrossEntropy(COUNTS)(logits, t).item() == pytest.approx(2.3883529594, abs=1e-9)
    assert F.cross_entropy(logits, t).item() == pytest.approx(0.6716270724, abs=1e-9)
    ce = F.cross_entropy(logits, t)
    torch.testing.assert_close(LogitAdjustedCrossEntropy([7, 7, 7])(logits, t), ce, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(LogitAdjustedCrossEntropy(COUNTS, tau=0.0)(logits, t), ce, rtol=1e-12, atol=1e-12)
    assert torch.equal(BalancedSoftmaxLoss(COUNTS)(logits, t), LogitAdjustedCrossEntropy(COUNTS, 1.0)(logits, t))
    both = torch.stack([logits, logits.flip(0)], 1)  # [B, 2, C]
    want = BalancedSoftmaxLoss(COUNTS)(torch.cat([logits, logits.flip(0)]), t.repeat(2))
    torch.testing.assert_close(SiameseBalancedSoftmaxLoss(COUNTS)(both, t), want)


def rand_batch(b, v, d, c, seed, absent=()):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(b, v, d, generator=g, dtype=torch.float64), dim=-1)
    allowed = torch.tensor([k for k in range(c) if k not in absent])
    y = allowed[torch.randint(0, len(allowed), (b,), generator=g)]
    protos = F.normalize(torch.randn(c, d, generator=g, dtype=torch.float64), dim=-1)
    return z, y, protos


@pytest.mark.parametrize(
    "b, v, c, tau, absent",
    [(4, 2, 3, 0.1, ()), (7, 2, 5, 0.07, (1, 3)), (9, 1, 4, 0.5, ()), (12, 2, 2, 0.2, ()), (6, 3, 6, 0.1, (0,))],
)
def test_bcl_equals_loop_reference(b, v, c, tau, absent):
    z, y, p = rand_batch(b, v, 8, c, seed=b + c, absent=absent)
    assert BalancedContrastiveLoss(tau)(z, y, p).item() == pytest.approx(
        reference.bcl(z, y, p, tau), rel=1e-10, abs=1e-10
    )
    assert BalancedContrastiveLoss(tau)(z, y).item() == pytest.approx(
        reference.bcl(z, y, None, tau), rel=1e-10, abs=1e-10
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("averaging, complement", [(True, True), (False, True), (True, False), (False, False)])
def test_rcl_equals_loop_reference(seed, averaging, complement):
    counts = [300, 120, 40, 9, 3]
    z, y, p = rand_batch(10, 2, 6, 5, seed)
    rho, lam, m = 0.7, 1.3, 0.15
    loss = RebalancedContrastiveLoss(counts, 0.1, averaging, complement, rho, lam, m, 0.25)(z, y, p)
    margins = [m * (3 / n) ** 0.25 for n in counts]
    offsets = [rho * math.log(n) for n in counts]
    want = reference.bcl(z, y, p if complement else None, 0.1, averaging, lam**2, offsets, margins)
    assert loss.item() == pytest.approx(want, rel=1e-10, abs=1e-10)


def test_rcl_reductions():
    z, y, p = rand_batch(11, 2, 16, 4, 3)
    counts = [100, 50, 10, 2]
    neutral = dict(balance_strength=0.0, feature_scale=1.0, margin=0.0)
    torch.testing.assert_close(
        RebalancedContrastiveLoss(counts, 0.1, **neutral)(z, y, p),
        BalancedContrastiveLoss(0.1)(z, y, p),
        rtol=1e-12,
        atol=1e-12,
    )
    plain = RebalancedContrastiveLoss(counts, 0.1, class_averaging=False, class_complement=False, **neutral)
    torch.testing.assert_close(plain(z, y), SupConLoss(0.1, 0.1)(z, y), rtol=1e-12, atol=1e-12)
    # feature scale alone is a temperature change: lambda^2 / tau
    scaled = RebalancedContrastiveLoss(counts, 0.1, False, False, 0.0, 2.0, 0.0)
    torch.testing.assert_close(scaled(z, y), SupConLoss(0.025, 0.025)(z, y), rtol=1e-12, atol=1e-12)


def test_permutation_invariance():
    z, y, p = rand_batch(9, 2, 8, 3, 5)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    for loss in (BalancedContrastiveLoss(0.1), RebalancedContrastiveLoss([50, 20, 5], 0.1, margin=0.2)):
        torch.testing.assert_close(loss(z, y, p), loss(z[perm], y[perm], p), rtol=1e-12, atol=1e-12)


def test_effective_number_weights_table():
    # hand-worked ResCom class weights
    for c, beta, head, tail in [
        (100, 0.999999, 0.2170, 21.69),
        (100, 0.9999, 0.2196, 21.42),
        (100, 0.99, 0.4664, 9.45),
        (10, 0.999999, 0.2484, 24.77),
        (10, 0.99, 0.8594, 2.18),
    ]:
        w = effective_number_weights(long_tail_counts(500 if c == 100 else 5000, c, 100), beta)
        assert w[0].item() == pytest.approx(head, abs=1e-4) and w[-1].item() == pytest.approx(tail, abs=1e-2)
    assert torch.equal(effective_number_weights([5, 1], 0.0), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="beta"):
        effective_number_weights([5, 1], 1.0)


def filled_queue(c, q, d, seed, pushes=3, b=8):
    queue = ClassBalancedQueue(c, q, d, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(pushes):
        queue.push(
            F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1).float(),
            torch.randint(0, c, (b,), generator=g),
        )
    return queue


@pytest.mark.parametrize(
    "c, q, qp, qn, beta, use_queue",
    [(3, 4, 1, 5, 0.999999, True), (5, 2, 2, 8, 0.99, True), (4, 3, 1, 1, 0.0, True), (3, 2, 1, 2, 0.9, False)],
)
def test_cbsc_equals_loop_reference(c, q, qp, qn, beta, use_queue):
    counts = [100 // (k + 1) for k in range(c)]
    z, y, _ = rand_batch(7, 2, 6, c, seed=c * 10 + q)
    queue = filled_queue(c, q, 6, seed=c) if use_queue else None
    loss = ClassBalancedSupConLoss(counts, 0.2, beta, qp, qn)(z, y, queue)
    w = effective_number_weights(counts, beta).tolist()
    keys = [[float(x) for x in k] for k in queue.keys()] if queue else None
    want = reference.cbsc(z, y, 0.2, w, keys, queue.labels().tolist() if queue else None, qp, qn)
    assert loss.item() == pytest.approx(want, rel=1e-6, abs=1e-6)  # queue keys are float32


def test_cbsc_without_weights_or_queue_is_supcon():
    z, y, _ = rand_batch(10, 2, 16, 4, 7)
    torch.testing.assert_close(
        ClassBalancedSupConLoss([9, 5, 3, 1], 0.2, beta=0.0)(z, y), SupConLoss(0.2, 0.2)(z, y), rtol=1e-12, atol=1e-12
    )


def test_mining_picks_hardest_keys():
    queue = ClassBalancedQueue(3, 3, 2)
    angles = {0: [0, 10, 80], 1: [30, 100, 170], 2: [5, 179, 90]}
    for cls, degs in angles.items():
        vecs = torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in degs])
        queue.push(vecs, torch.full((3,), cls))
    anchor = torch.tensor([[1.0, 0.0]])
    pos, neg = ClassBalancedSupConLoss([5, 5, 5], 0.2, 0.0, 2, 3).mine(anchor, torch.tensor([0]), queue)
    torch.testing.assert_close(pos, torch.tensor([[math.cos(math.radians(80)), math.cos(math.radians(10))]]))
    want_neg = sorted([math.cos(math.radians(a)) for a in (30, 100, 170, 5, 179, 90)], reverse=True)[:3]
    torch.testing.assert_close(neg, torch.tensor([want_neg]))


def test_queue_holds_last_vectors_in_fifo_order():
    queue = ClassBalancedQueue(num_classes=3, per_class=4, dim=2, seed=0)
    initial = queue.keys()
    pushed = {c: [] for c in range(3)}
    for step in range(5):
        labels = torch.tensor([0, 1, 0, 0, 2, 0, 0][: 3 + step])
        vecs = torch.stack([torch.tensor([float(step), float(i)]) for i in range(len(labels))])
        queue.push(vecs, labels)
        for v, c in zip(vecs, labels.tolist(), strict=True):
            pushed[c].append(v)
    keys, klabels = queue.keys(), queue.labels()
    for c in range(3):
        block = keys[klabels == c]
        last = pushed[c][-4:]
        n_random = 4 - len(last)
        torch.testing.assert_close(block[n_random:], torch.stack(last))  # oldest first
        torch.testing.assert_close(block[:n_random], initial[klabels == c][len(last) :])
    assert queue.pointer.tolist() == [len(pushed[c]) % 4 for c in range(3)]
    assert not queue.buffer.requires_grad


def test_backward_after_push_raises_no_inplace_error():
    queue = filled_queue(3, 4, 8, seed=1)
    z, y, _ = rand_batch(6, 2, 8, 3, 2)
    z = z.float().requires_grad_(True)
    loss = ClassBalancedSupConLoss([10, 5, 2], 0.2, 0.99, 1, 4)(z, y, queue)
    queue.push(z[:, 0].detach(), y)  # enqueue after the loss, before backward (as the recipe does)
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_gradcheck_long_tail_losses():
    z, y, p = rand_batch(5, 2, 4, 3, 0)
    z.requires_grad_(True)
    p.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f, c: BalancedContrastiveLoss(0.2)(f, y, c), (z, p), eps=1e-6, atol=1e-6)
    rcl = RebalancedContrastiveLoss([20, 6, 2], 0.2, balance_strength=0.5, feature_scale=1.2, margin=0.2)
    assert torch.autograd.gradcheck(lambda f, c: rcl(f, y, c), (z, p), eps=1e-6, atol=1e-6)
    queue = ClassBalancedQueue(3, 2, 4).double()
    cbsc = ClassBalancedSupConLoss([20, 6, 2], 0.2, 0.99, 1, 2)
    assert torch.autograd.gradcheck(lambda f: cbsc(f, y, queue), (z,), eps=1e-6, atol=1e-6)
    logits = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: LogitAdjustedCrossEntropy([20, 6, 2])(x, torch.tensor([0, 1, 2, 2])), (logits,)
    )


def _long_tail_losses(tau, y, protos, counts, queue) -> list:
    """Every long-tail loss as a function of the features (the fuzz below calls each)."""
    return [
        lambda f: BalancedContrastiveLoss(tau)(f, y, protos),
        lambda f: BalancedContrastiveLoss(tau)(f, y),
        lambda f: RebalancedContrastiveLoss(counts, tau, margin=0.3, feature_scale=1.5)(f, y, protos),
        lambda f: RebalancedContrastiveLoss(counts, tau, False, False, 1.0, 1.0, 0.2)(f, y),
        lambda f: ClassBalancedSupConLoss(counts, tau, 0.999999, 1, 1)(f, y, queue),
        lambda f: ClassBalancedSupConLoss(counts, tau, 0.99, 1, 1)(f, y),
    ]


def test_fuzz_grid_long_tail():
    cases = 0
    for c, (name, label_fn), dtype in itertools.product(
        (2, 10, 100),
        (
            ("one sample per class", lambda c: torch.arange(min(c, 12))),
            ("one class", lambda c: torch.zeros(6, dtype=torch.long)),
            ("classes absent", lambda c: torch.tensor([0, 0, 1, 1, 1, 1])),
            ("B=1", lambda c: torch.tensor([c - 1])),
        ),
        (torch.float32, torch.bfloat16),
    ):
        y = label_fn(c)
        counts = long_tail_counts(200, c, 50)
        g = torch.Generator().manual_seed(c)
        for views, tau in itertools.product((1, 2), (0.01, 0.1, 1.0)):
            base = F.normalize(torch.randn(len(y), views, 16, generator=g), dim=-1)
            protos = F.normalize(torch.randn(c, 16, generator=g), dim=-1)
            queue = ClassBalancedQueue(c, 2, 16, seed=c)  # never pushed: random, unfilled keys
            for fn in _long_tail_losses(tau, y, protos, counts, queue):
                f = base.clone().to(dtype).requires_grad_(True)
                loss = fn(f)
                loss.backward()
                assert torch.isfinite(loss) and torch.isfinite(f.grad.float()).all(), (
                    f"{name}, C={c}, V={views}, tau={tau}"
                )
                cases += 1
    assert cases >= 400


def test_registry_and_validation():
    assert isinstance(get_loss("rcl", class_counts=[3, 1], margin=0.1), RebalancedContrastiveLoss)
    assert isinstance(get_loss("bcl"), BalancedContrastiveLoss)
    assert isinstance(get_loss("rescom", class_counts=[3, 1]), ClassBalancedSupConLoss)
    assert isinstance(get_loss("la_ce", class_counts=[3, 1]), LogitAdjustedCrossEntropy)
    assert isinstance(get_loss("balanced_softmax", class_counts=[3, 1]), BalancedSoftmaxLoss)
    with pytest.raises(ValueError, match="needs the parameters \\['class_counts'\\]"):
        get_loss("rcl")
    with pytest.raises(ValueError, match="class_counts"):
        RebalancedContrastiveLoss([3, 0])
    with pytest.raises(ValueError, match="feature_scale"):
        RebalancedContrastiveLoss([3, 1], feature_scale=0.0)
    with pytest.raises(ValueError, match="margin"):
        RebalancedContrastiveLoss([3, 1], margin=-1.0)
    with pytest.raises(ValueError, match="needs prototypes"):
        RebalancedContrastiveLoss([3, 1])(F.normalize(torch.randn(2, 2, 4), dim=-1), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="hard_positives <= per_class"):
        ClassBalancedSupConLoss([3, 1], 0.2, 0.9, 3, 1)(
            F.normalize(torch.randn(2, 2, 4), dim=-1), torch.tensor([0, 1]), ClassBalancedQueue(2, 2, 4)
        )
    with pytest.raises(ValueError, match="prototypes have dimension"):
        BalancedContrastiveLoss()(F.normalize(torch.randn(2, 2, 4), dim=-1), torch.tensor([0, 1]), torch.eye(2))
    with pytest.raises(ValueError, match="logits have 2 classes"):
        LogitAdjustedCrossEntropy([3, 2, 1])(torch.randn(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="push expects"):
        ClassBalancedQueue(2, 2, 4).push(torch.randn(3, 5), torch.tensor([0, 1, 0]))
