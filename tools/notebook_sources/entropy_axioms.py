from common import badge, colab_install_cell, parameters_cell

NAME = "10_entropy_axioms.ipynb"
BADGE = badge(NAME)

CELLS = [
    ("md", "# Entropy, axiomatically\n\n" + BADGE + r"""

Why entropy has to be $-\sum_i p_i \log p_i$, why a cross-entropy is never below the entropy, and
what that says about the contrastive losses: every step of every proof is checked by sympy.

```{admonition} A reconstruction, not the paper's appendix
:class: warning
The arXiv version of the ACL paper {cite}`vito2022asymmetric` announces "a full axiomatic
treatment on entropy, along with complete proofs" in its appendix. **The text of that appendix
could not be recovered** for this companion. This notebook is the *standard* Shannon–Khinchin
development {cite}`shannon1948mathematical,khinchin1957mathematical,cover2006elements`,
reconstructed for the companion. The statements are correct and each proof step is checked
below, but the wording, the order and the numbering (D1–D5, A1–A3, K1–K4, L1–L3, T1, T2, P1, P2,
C1) are ours, **not the paper's**.
```

Runtime: a few seconds in every profile (no data, no training).
"""),
    parameters_cell("""
profile = "quick"            # smoke | quick | paper
seed = 0
data_dir = None              # unused: this notebook needs no data
output_dir = "outputs"
"""),
    colab_install_cell(),
    ("code", """
import math
from fractions import Fraction
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
import torch

from imbalanced_contrastive.losses import ContrastiveLoss
from imbalanced_contrastive.profiles import check_profile

check_profile(profile)
n_cases = {"smoke": 3, "quick": 10, "paper": 10}[profile]   # random numeric spot checks
rng = np.random.default_rng(seed)
torch.manual_seed(seed)
figures = Path(output_dir) / "figures" / "entropy_axioms"
figures.mkdir(parents=True, exist_ok=True)


def positive_on(expr, x, domain):
    \"\"\"True when sympy proves expr > 0 on domain (the set where expr <= 0 is empty).\"\"\"
    return sp.solveset(expr <= 0, x, domain) == sp.S.EmptySet


def negative_on(expr, x, domain):
    return positive_on(-expr, x, domain)


unit = sp.Interval.open(0, 1)
print("sympy", sp.__version__)
"""),
    ("md", r"""
## How to read this notebook

Each statement sits in a box (definition, axiom, lemma, theorem, ...). Each proof is followed by a
code cell that **asserts** its steps: identities as `sp.simplify(lhs - rhs) == 0`, inequalities
by exact algebra or by the sign of a derivative, limits with `sp.limit`. A wrong step stops the
notebook. Two steps are not symbolic (the squeeze $k \to \infty$ in {prf:ref}`ent-lem-log` and
the density of the rationals in {prf:ref}`ent-thm-uniqueness`); they are checked with exact
rational arithmetic on examples and the text says so. Logarithms are natural (nats).

## 1. Definitions
"""),
    ("md", r"""
```{prf:definition} D1: simplex, entropy function
:label: ent-def-simplex
For $n \ge 1$ the *probability simplex* is
$\Delta_n = \{(p_1,\dots,p_n) : p_i \ge 0,\ \sum_i p_i = 1\}$.
An *entropy* is a family of functions $H_n : \Delta_n \to \mathbb{R}$, $n = 1, 2, \dots$
We write $A(n) = H_n(\tfrac1n,\dots,\tfrac1n)$ for its value at the uniform distribution.
```

```{prf:definition} D2: Shannon entropy
:label: ent-def-shannon
$H(p) = -\sum_{i=1}^n p_i \log p_i$, with the convention $0 \log 0 = 0$. The convention is the
continuous extension, because $\lim_{x\to 0^+} x \log x = 0$.
```

```{prf:definition} D3: cross-entropy
:label: ent-def-cross-entropy
For $p, q \in \Delta_n$, $H(p, q) = -\sum_{i} p_i \log q_i$ (terms with $p_i = 0$ are $0$;
$H(p,q) = +\infty$ if some $p_i > 0 = q_i$). Note $H(p, p) = H(p)$.
```

```{prf:definition} D4: Kullback–Leibler divergence
:label: ent-def-kl
$D(p\,\|\,q) = \sum_{i : p_i > 0} p_i \log \dfrac{p_i}{q_i}$. It links D2 and D3:
$H(p, q) = H(p) + D(p\,\|\,q)$.
```

```{prf:definition} D5: binary cross-entropy
:label: ent-def-bce
For a target $y \in \{0, 1\}$ and a prediction $p \in (0, 1)$,
$\mathrm{BCE}(y, p) = -[\,y \log p + (1-y) \log(1-p)\,]$. The negative ("asymmetric") term of
ACL, $-\log(1 - p_{in})$, is exactly the $y = 0$ branch applied to the softmax probability that
anchor $i$ gives to a negative $n$; the CL term $-\log p_{ip}$ is the $y = 1$ branch.
```
"""),
    ("code", """
x = sp.symbols("x", positive=True)
# D2: the convention 0 log 0 = 0 is the continuous extension.
assert sp.limit(x * sp.log(x), x, 0, "+") == 0

# D3/D4 on three outcomes: H(p, q) = H(p) + D(p || q), and H(p, p) = H(p).
p = sp.symbols("p1:4", positive=True)
q = sp.symbols("q1:4", positive=True)
H = lambda d: -sum(di * sp.log(di) for di in d)
cross = lambda a, b: -sum(ai * sp.log(bi) for ai, bi in zip(a, b))
kl = lambda a, b: sum(ai * sp.log(ai / bi) for ai, bi in zip(a, b))
assert sp.simplify(sp.expand_log(cross(p, q) - (H(p) + kl(p, q)))) == 0
assert sp.simplify(cross(p, p) - H(p)) == 0

# D5: the two branches of the binary cross-entropy.
y, pr = sp.symbols("y p", positive=True)
bce = -(y * sp.log(pr) + (1 - y) * sp.log(1 - pr))
assert sp.simplify(bce.subs(y, 0) - (-sp.log(1 - pr))) == 0   # ACL's negative term
assert sp.simplify(bce.subs(y, 1) - (-sp.log(pr))) == 0       # CL's positive term
print("D2-D5 checked")
"""),
    ("md", r"""
## 2. Axioms

Shannon {cite}`shannon1948mathematical` asked what a measure of "uncertainty" $H_n$ should
satisfy and found three requirements.

```{prf:axiom} A1: continuity
:label: ent-ax-continuity
Each $H_n$ is continuous on $\Delta_n$.
```

```{prf:axiom} A2: monotonicity
:label: ent-ax-monotonicity
$A(n) = H_n(\tfrac1n, \dots, \tfrac1n)$ is strictly increasing in $n$: more equally likely
outcomes mean more uncertainty.
```

```{prf:axiom} A3: grouping (composition law)
:label: ent-ax-grouping
If $\{1, \dots, n\}$ is partitioned into blocks $B_1, \dots, B_m$ with masses
$w_k = \sum_{i \in B_k} p_i > 0$, then

$$
H_n(p) = H_m(w_1, \dots, w_m) + \sum_{k=1}^m w_k\, H_{|B_k|}\!\left(\frac{p_{B_k}}{w_k}\right),
$$

where $p_{B_k}/w_k$ is the conditional distribution inside block $k$: a choice split into two
successive choices has the entropy of the first choice plus the average entropy of the second.
With $A(1) = 0$ ({prf:ref}`ent-lem-additivity`) the special case "merge the first two outcomes"
reads $H_n(p_1,\dots,p_n) = H_{n-1}(p_1+p_2, p_3, \dots, p_n) + (p_1+p_2)\,
H_2\!\left(\frac{p_1}{p_1+p_2}, \frac{p_2}{p_1+p_2}\right)$.
```

Khinchin {cite}`khinchin1957mathematical` gave an equivalent system that is often quoted instead.

```{prf:axiom} K1: continuity
:label: ent-ax-k1
$H_n$ is continuous on $\Delta_n$.
```

```{prf:axiom} K2: maximality
:label: ent-ax-k2
$H_n(p) \le H_n(\tfrac1n, \dots, \tfrac1n)$ for every $p \in \Delta_n$.
```

```{prf:axiom} K3: expansibility
:label: ent-ax-k3
$H_{n+1}(p_1, \dots, p_n, 0) = H_n(p_1, \dots, p_n)$: an impossible outcome changes nothing.
```

```{prf:axiom} K4: strong additivity
:label: ent-ax-k4
For a pair of random variables $(X, Y)$ with finitely many values,
$H(X, Y) = H(X) + \sum_x P(X = x)\, H(Y \mid X = x)$.
```

```{prf:remark} How the systems relate
:label: ent-rem-axiom-systems
K4 is the composition law A3 with the blocks given by the values of $X$. K2 takes the place of A2:
together with K3 it gives monotonicity in the weak form
$A(n) = H_{n+1}(\tfrac1n,\dots,\tfrac1n,0) \le A(n+1)$.
Faddeev's variant keeps only symmetry, continuity of $H_2$, $H_2(\tfrac12,\tfrac12) = 1$ and the
merge-two-outcomes recursion. All of them single out the same function, Shannon's, up to the
constant $K$ (equivalently, the base of the logarithm).
```

The converse half of the uniqueness theorem says that Shannon's formula does satisfy the axioms.
Here are the checks of A3 (in its two forms), K3 and K4; A1 and A2 are checked after
{prf:ref}`ent-thm-uniqueness` and K2 is {prf:ref}`ent-prop-maxent`.
"""),
    ("code", """
a, w, b1, b2 = sp.symbols("a w b1 b2", positive=True)
H2 = lambda u: -u * sp.log(u) - (1 - u) * sp.log(1 - u)

# A3, merge-two-outcomes form, for n = 3: p1 = a w, p2 = (1 - a) w, p3 = 1 - w.
lhs = H([a * w, (1 - a) * w, 1 - w])
rhs = H([w, 1 - w]) + w * H2(a)
assert sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0

# A3, general form, n = 5 split into blocks {1, 2} and {3, 4, 5} with masses w and 1 - w.
c = sp.symbols("c1:4", positive=True)                       # conditional distribution on block 2
c3 = 1 - c[0] - c[1]
p5 = [a * w, (1 - a) * w, c[0] * (1 - w), c[1] * (1 - w), c3 * (1 - w)]
lhs = H(p5)
rhs = H([w, 1 - w]) + w * H([a, 1 - a]) + (1 - w) * H([c[0], c[1], c3])
assert sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0

# K3: adding an outcome of probability eps -> 0 changes H by -eps log eps -> 0.
eps = sp.symbols("epsilon", positive=True)
assert sp.limit(-eps * sp.log(eps), eps, 0, "+") == 0

# K4 on a 2 x 2 joint law P(x, y) = P(x) P(y | x).
joint = [a * b1, a * (1 - b1), (1 - a) * b2, (1 - a) * (1 - b2)]
rhs = H([a, 1 - a]) + a * H2(b1) + (1 - a) * H2(b2)
assert sp.simplify(sp.expand_log(H(joint) - rhs, force=True)) == 0
print("Shannon's H satisfies A3 (both forms), K3 and K4")
"""),
    ("md", r"""
## 3. Uniform distributions: $A(n) = K \log n$

```{prf:lemma} L1: additivity of $A$
:label: ent-lem-additivity
Under A3, $A(mn) = A(m) + A(n)$ for all integers $m, n \ge 1$. Consequently $A(1) = 0$ and
$A(n^k) = k\,A(n)$ for every $k \ge 1$.
```

```{prf:proof}
Split $mn$ equally likely outcomes into $m$ blocks of $n$ outcomes each. Each block has mass
$w_k = n \cdot \frac{1}{mn} = \frac1m$ and, inside a block, each outcome has conditional probability
$\frac{1/(mn)}{1/m} = \frac1n$. The composition law A3 gives

$$
A(mn) = H_m\!\left(\tfrac1m, \dots, \tfrac1m\right) + \sum_{k=1}^m \tfrac1m\, A(n) = A(m) + A(n).
$$

With $m = n = 1$: $A(1) = 2A(1)$, so $A(1) = 0$. By induction on $k$:
$A(n^{k+1}) = A(n^k \cdot n) = A(n^k) + A(n) = k A(n) + A(n) = (k + 1) A(n)$.
```
"""),
    ("code", """
m, n, k, j = sp.symbols("m n k j", positive=True, integer=True)
A = sp.Function("A")

# Block masses and conditional probabilities.
assert sp.simplify(n * (1 / (m * n)) - 1 / m) == 0
assert sp.simplify((1 / (m * n)) / (1 / m) - 1 / n) == 0
# Composition law: m blocks of mass 1/m, each with entropy A(n).
assert sp.simplify(A(m) + sp.summation(A(n) / m, (j, 1, m)) - (A(m) + A(n))) == 0
# A(1) = 2 A(1) forces A(1) = 0.
A1 = sp.symbols("A1")
assert sp.solve(sp.Eq(A1, 2 * A1), A1) == [0]
# Induction step: A(n^(k+1)) = A(n^k * n) = A(n^k) + A(n) = k A(n) + A(n) = (k + 1) A(n).
assert sp.powsimp(n**k * n) == n**(k + 1)
assert sp.expand(k * A(n) + A(n) - (k + 1) * A(n)) == 0
print("L1 checked")
"""),
    ("md", r"""
```{prf:lemma} L2: $A(n) = K \log n$
:label: ent-lem-log
Under A2 and A3 there is a constant $K > 0$ with $A(n) = K \log n$ for every $n \ge 1$.
```

```{prf:proof}
*Step 1.* By {prf:ref}`ent-lem-additivity` $A(1) = 0$, so A2 gives $A(m) > 0$ for $m \ge 2$.

*Step 2.* Fix integers $m, n \ge 2$ and $k \ge 1$, and let $l \ge 0$ be the integer with
$m^l \le n^k < m^{l+1}$.

*Step 3.* $A$ is increasing (A2), and $A(m^l) = l A(m)$, $A(n^k) = k A(n)$,
$A(m^{l+1}) = (l+1) A(m)$ by {prf:ref}`ent-lem-additivity`. Applying $A$ to Step 2:
$l\,A(m) \le k\,A(n) < (l+1)\,A(m)$.

*Step 4.* $\log$ is increasing too, so $l \log m \le k \log n < (l+1) \log m$.

*Step 5.* Divide Step 3 by $k A(m) > 0$ and Step 4 by $k \log m > 0$: both $A(n)/A(m)$ and
$\log n / \log m$ lie in the interval $[\,l/k,\ (l+1)/k\,)$ of width $1/k$, so

$$
\left| \frac{A(n)}{A(m)} - \frac{\log n}{\log m} \right| < \frac1k .
$$

*Step 6.* The left side does not depend on $k$ and $1/k \to 0$, so it is $0$:
$A(n)/\log n = A(m)/\log m$ for all $m, n \ge 2$. Call this common value $K$; $K = A(2)/\log 2 > 0$
by Step 1. Finally $A(1) = 0 = K \log 1$.
```

Steps 2, 4 and 5 are statements about integers; we check them with **exact** integer and
`Fraction` arithmetic for many $(m, n, k)$ (Step 4 is equivalent to Step 2 because $\log$ is
increasing: $l \log m \le k \log n \iff m^l \le n^k$). Step 6, the squeeze $k \to \infty$, is not
symbolic: we check $1/k \to 0$ with `sp.limit` and show the interval closing in on
$\log n/\log m$ numerically.
"""),
    ("code", """
def sandwich_exponent(m, n, k):
    \"\"\"The integer l with m**l <= n**k < m**(l + 1) (exact integer arithmetic).\"\"\"
    l, target = 0, n**k
    while m ** (l + 1) <= target:
        l += 1
    return l


cases = [(m_, n_, k_) for m_ in (2, 3, 5, 10) for n_ in (2, 3, 7, 12) for k_ in (1, 2, 5, 20, 100)]
for m_, n_, k_ in cases[: n_cases * 8]:
    l = sandwich_exponent(m_, n_, k_)
    # Step 2 (exact): m^l <= n^k < m^(l+1).
    assert m_**l <= n_**k_ < m_ ** (l + 1)
    # Step 4 (exact): l log m <= k log n < (l+1) log m, compared as logarithms of exact integers.
    log_ml, log_nk, log_ml1 = (sp.log(sp.Integer(v)) for v in (m_**l, n_**k_, m_ ** (l + 1)))
    assert bool(log_ml <= log_nk) and bool(log_nk < log_ml1)
    # Step 3 is Step 2 seen through the increasing A, rewritten with L1: A(m^l) = l A(m), A(n^k) = k A(n).
    # Step 5: the interval [l/k, (l+1)/k) has width exactly 1/k ...
    lo, hi = Fraction(l, k_), Fraction(l + 1, k_)
    assert hi - lo == Fraction(1, k_)
    # ... and contains log n / log m (checked here in floating point as an illustration).
    assert float(lo) <= math.log(n_) / math.log(m_) < float(hi) + 1e-12

# Step 6: the width 1/k tends to 0.
assert sp.limit(1 / k, k, sp.oo) == 0
# The converse: K log n is additive and strictly increasing when K > 0.
K = sp.symbols("K", positive=True)
assert sp.simplify(sp.expand_log(K * sp.log(m * n) - (K * sp.log(m) + K * sp.log(n)), force=True)) == 0
t = sp.symbols("t", positive=True)
assert positive_on(sp.diff(K * sp.log(t), t), t, sp.Interval.open(0, sp.oo))

ks = [1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000]
ratio = math.log(3) / math.log(2)
intervals = [(Fraction(sandwich_exponent(2, 3, k_), k_), Fraction(sandwich_exponent(2, 3, k_) + 1, k_)) for k_ in ks]
for k_, (lo, hi) in list(zip(ks, intervals))[::3]:
    print(f"k = {k_:5d}: log 3 / log 2 = {ratio:.6f} lies in [{lo}, {hi}) = [{float(lo):.6f}, {float(hi):.6f})")
"""),
    ("code", """
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.vlines(ks, [float(lo) for lo, _ in intervals], [float(hi) for _, hi in intervals], lw=4, alpha=0.5,
          label=r"$[\\,l/k,\\ (l+1)/k\\,)$ with $2^l \\leq 3^k < 2^{l+1}$")
ax.axhline(ratio, color="k", lw=1, label=r"$\\log 3 / \\log 2$")
ax.set_xscale("log")
ax.set_xlabel("$k$")
ax.set_ylabel("$A(3) / A(2)$ is in the band")
ax.set_title("The sandwich of Lemma L2 closes in as $k$ grows")
ax.legend(loc="upper right", fontsize=8)
fig.savefig(figures / "sandwich.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", r"""
## 4. Uniqueness

```{prf:theorem} T1: uniqueness of the Shannon entropy
:label: ent-thm-uniqueness
If $\{H_n\}$ satisfies A1–A3, then $H_n(p) = -K \sum_{i=1}^n p_i \log p_i$ for every $n$ and
every $p \in \Delta_n$, with the constant $K > 0$ of {prf:ref}`ent-lem-log`. Conversely, for every
$K > 0$ this formula satisfies A1–A3.
```

```{prf:proof}
*Step 1 (rational points).* Let $p_i = n_i / M$ with positive integers $n_i$ and
$M = \sum_i n_i$. Split $M$ equally likely outcomes into blocks of sizes $n_1, \dots, n_n$: block
$i$ has mass $n_i/M = p_i$ and is uniform inside ($1/n_i$ each). By A3 and
{prf:ref}`ent-lem-log`,
$A(M) = H_n(p) + \sum_i p_i A(n_i)$, so

$$
H_n(p) = K \log M - K \sum_i p_i \log n_i = -K \sum_i p_i \log \frac{n_i}{M},
$$

using $\sum_i p_i = 1$.

*Step 2 (density).* Points with positive rational coordinates are dense in $\Delta_n$ (boundary
points included), both sides are continuous (A1, and $x \log x \to 0$), so they agree everywhere.

*Converse.* A1: $x \mapsto -x\log x$ is continuous on $(0,1]$ and tends to $0$ at $0$. A2:
$A(n) = K \log n$ is strictly increasing. A3: checked symbolically in Section 2 (the composition
law is an algebraic identity of $-\sum p \log p$).
```

Step 1 is symbolic. Step 2 is analysis, not algebra: we show it on an irrational point,
$p = (1/\sqrt2,\ 1 - 1/\sqrt2)$, approximated by exact decimal fractions whose error bound is
proved with integer arithmetic.
"""),
    ("code", """
# Step 1, symbolically, for n = 3 outcomes with counts n1, n2, n3.
K = sp.symbols("K", positive=True)
ns = sp.symbols("n1:4", positive=True, integer=True)
M = sum(ns)
ps = [ni / M for ni in ns]
assert sp.simplify(sum(ps) - 1) == 0                          # a distribution
assert all(sp.simplify((1 / M) / pi - 1 / ni) == 0 for pi, ni in zip(ps, ns))   # uniform in block i
lhs = K * sp.log(M) - K * sum(pi * sp.log(ni) for pi, ni in zip(ps, ns))   # A(M) - sum p_i A(n_i)
rhs = -K * sum(pi * sp.log(pi) for pi in ps)
assert sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0
# An exact instance: p = (1/2, 1/3, 1/6), M = 6.
inst = {ns[0]: 3, ns[1]: 2, ns[2]: 1, K: 1}
assert sp.simplify(lhs.subs(inst) - H([sp.Rational(1, 2), sp.Rational(1, 3), sp.Rational(1, 6)])) == 0

# Converse A1: -x log x extends continuously by 0 at 0; A2: d/dn (K log n) = K/n > 0.
assert sp.limit(-x * sp.log(x), x, 0, "+") == 0
assert positive_on(sp.diff(K * sp.log(t), t), t, sp.Interval.open(0, sp.oo))

# Step 2 (numeric, exact rationals): r_k = floor(10^k / sqrt 2) / 10^k approximates 1/sqrt 2.
target = 1 / math.sqrt(2)
h_target = -(target * math.log(target) + (1 - target) * math.log(1 - target))
errors = []
for kk in range(1, 13):
    r = Fraction(math.isqrt(10 ** (2 * kk) // 2), 10**kk)
    # exact: r^2 <= 1/2 < (r + 10^-k)^2, i.e. 0 <= 1/sqrt2 - r < 10^-k
    assert r * r <= Fraction(1, 2) < (r + Fraction(1, 10**kk)) ** 2
    h_r = -(float(r) * math.log(r) + float(1 - r) * math.log(1 - r))   # H at the rational point (Step 1)
    errors.append(abs(h_r - h_target))
    assert errors[-1] <= 10.0**-kk      # |H'| < 1 between r and 1/sqrt2, so the error is below 10^-k
    if kk <= 5:
        print(f"k = {kk}: r = {r}, |H(r, 1-r) - H(1/sqrt2, 1-1/sqrt2)| = {errors[-1]:.2e}")
assert all(e2 <= e1 + 1e-15 for e1, e2 in zip(errors, errors[1:]))   # and it never grows with k
"""),
    ("md", r"""
## 5. Gibbs' inequality and maximum entropy

```{prf:lemma} L3: the logarithm lies below its tangent
:label: ent-lem-log-tangent
$\log x \le x - 1$ for every $x > 0$, with equality if and only if $x = 1$.
```

```{prf:proof}
Let $f(x) = x - 1 - \log x$. Then $f(1) = 0$ and $f'(x) = 1 - 1/x$, which is negative on $(0,1)$
and positive on $(1,\infty)$. So $f$ decreases to its value $0$ at $x = 1$ and increases after
it: $f(x) > 0$ for every $x \ne 1$.
```
"""),
    ("code", """
f = x - 1 - sp.log(x)
assert f.subs(x, 1) == 0
fp = sp.diff(f, x)
assert sp.simplify(fp - (1 - 1 / x)) == 0
assert sp.solveset(fp < 0, x, sp.Interval.open(0, sp.oo)) == sp.Interval.open(0, 1)
assert sp.solveset(fp > 0, x, sp.Interval.open(0, sp.oo)) == sp.Interval.open(1, sp.oo)
print("L3 checked: f' < 0 on (0, 1), f' > 0 on (1, oo), f(1) = 0")
"""),
    ("md", r"""
```{prf:theorem} T2: Gibbs' inequality
:label: ent-thm-gibbs
For $p, q \in \Delta_n$, $D(p\,\|\,q) \ge 0$, with equality if and only if $p = q$. Equivalently
(by D4) $H(p, q) \ge H(p)$: a cross-entropy is never below the entropy of its target.
```

```{prf:proof}
If $q_i = 0 < p_i$ for some $i$ then $D = +\infty$. Otherwise let $S = \{i : p_i > 0\}$. By
{prf:ref}`ent-lem-log-tangent` with $x = q_i / p_i$,

$$
-D(p\,\|\,q) = \sum_{i\in S} p_i \log\frac{q_i}{p_i}
\le \sum_{i\in S} p_i\left(\frac{q_i}{p_i} - 1\right)
= \sum_{i\in S} q_i - \sum_{i \in S} p_i = \sum_{i\in S} q_i - 1 \le 0 .
$$

Equality needs $q_i / p_i = 1$ for all $i \in S$ (equality case of L3), hence $q = p$ on $S$;
then $\sum_{i \in S} q_i = 1$ forces $q_i = 0$ off $S$, so $q = p$.
```

The code checks each step of the chain for three outcomes, proves the two-outcome case
independently by calculus (the only critical point of $q \mapsto D(p\|q)$ is $q = p$ and it is a
minimum), and spot-checks random distributions.
"""),
    ("code", """
# Term by term: p log(q/p) - p (q/p - 1) = -p f(q/p) <= 0 because f >= 0 (L3).
pi_, qi_ = sp.symbols("p_i q_i", positive=True)
assert sp.simplify(sp.expand_log(pi_ * sp.log(qi_ / pi_) - pi_ * (qi_ / pi_ - 1) - (-pi_ * f.subs(x, qi_ / pi_)), force=True)) == 0
# p (q/p - 1) = q - p, summed over three outcomes with sum p = 1 gives sum q - 1.
assert sp.simplify(pi_ * (qi_ / pi_ - 1) - (qi_ - pi_)) == 0
p3 = [p[0], p[1], 1 - p[0] - p[1]]
assert sp.simplify(sum(qi - pi for qi, pi in zip(q, p3)) - (sum(q) - 1)) == 0

# Two outcomes, by calculus: d/dq D((p,1-p) || (q,1-q)) = 0 only at q = p, and D'' > 0.
P, Q = sp.symbols("P Q", positive=True)
D2 = P * sp.log(P / Q) + (1 - P) * sp.log((1 - P) / (1 - Q))
dD = sp.diff(D2, Q)
assert sp.simplify(dD - (Q - P) / (Q * (1 - Q))) == 0
assert sp.solve(sp.Eq(sp.together(dD), 0), Q) == [P]
assert sp.simplify(D2.subs(Q, P)) == 0
d2D = sp.simplify(sp.diff(D2, Q, 2))
assert sp.simplify(d2D - (P / Q**2 + (1 - P) / (1 - Q) ** 2)) == 0   # a sum of positive terms

# Random spot checks with exact rational distributions.
for _ in range(n_cases):
    size = int(rng.integers(2, 7))
    a_, b_ = rng.integers(1, 50, size), rng.integers(1, 50, size)
    pp = [Fraction(int(v), int(a_.sum())) for v in a_]
    qq = [Fraction(int(v), int(b_.sum())) for v in b_]
    assert sum(pp) == 1 and sum(qq) == 1
    d = sum(float(u) * math.log(u / v) for u, v in zip(pp, qq))
    assert d >= 0 and (d > 0 or pp == qq)
print("T2 checked")
"""),
    ("md", r"""
```{prf:proposition} P1: maximum entropy
:label: ent-prop-maxent
$H(p) \le \log n$ for every $p \in \Delta_n$, with equality if and only if $p$ is uniform. In
particular Shannon's entropy satisfies Khinchin's K2.
```

```{prf:proof}
Let $u = (\tfrac1n, \dots, \tfrac1n)$. Then
$D(p\,\|\,u) = \sum_i p_i \log(n p_i) = \log n \sum_i p_i + \sum_i p_i \log p_i = \log n - H(p)$,
which is $\ge 0$ with equality iff $p = u$ by {prf:ref}`ent-thm-gibbs`.
```
"""),
    ("code", """
for size in (3, 4):
    v = sp.symbols(f"v1:{size}", positive=True)
    dist = list(v) + [1 - sum(v)]
    uniform = [sp.Rational(1, size)] * size
    assert sp.simplify(sp.expand_log(kl(dist, uniform) - (sp.log(size) - H(dist)), force=True)) == 0
    assert sp.simplify(H(uniform) - sp.log(size)) == 0
# Two outcomes by calculus: H2' = log((1-u)/u) vanishes only at 1/2 and H2'' < 0.
u = sp.symbols("u", positive=True)
assert sp.simplify(sp.diff(H2(u), u) - sp.log((1 - u) / u)) == 0
assert sp.solveset(sp.diff(H2(u), u), u, unit) == sp.FiniteSet(sp.Rational(1, 2))
assert negative_on(sp.diff(H2(u), u, 2), u, unit)
print("P1 checked")
"""),
    ("code", """
grid = np.linspace(1e-4, 1 - 1e-4, 400)
h2 = -(grid * np.log(grid) + (1 - grid) * np.log(1 - grid))
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(grid, h2, label="$H(p, 1-p)$")
for q0 in (0.2, 0.5):
    cross_q = -(grid * np.log(q0) + (1 - grid) * np.log(1 - q0))
    ax.plot(grid, cross_q, "--", label=f"cross-entropy against $q = {q0}$")
    ax.plot([q0], [-(q0 * np.log(q0) + (1 - q0) * np.log(1 - q0))], "ko", ms=4)
ax.axhline(np.log(2), color="grey", lw=0.8, ls=":")
ax.set_ylim(0, 1.6)
ax.set_xlabel("$p$")
ax.set_ylabel("nats")
ax.set_title("Gibbs: each cross-entropy line touches $H$ only at $p = q$; max is $\\\\log 2$")
ax.legend(fontsize=8)
fig.savefig(figures / "binary_entropy.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", r"""
## 6. What this says about the contrastive losses

Anchor $i$ of a batch gives every other sample $j \in A(i)$ the softmax probability
$p_{ij} = \exp(s_{ij}) / \sum_{a \in A(i)} \exp(s_{ia})$ with $s_{ij} = z_i\cdot z_j/\tau$; its
positives are $P(i)$ (same label) and its negatives $N(i)$ (see the ACL chapter and
{cite}`khosla2020supcon`).

```{prf:corollary} C1: CL is a cross-entropy bounded below by $\log |P(i)|$
:label: ent-cor-cl-bound
Let $P(i) \ne \emptyset$ and let $q_i$ be the uniform distribution on $P(i)$ (zero on $N(i)$).
Then the per-anchor supervised contrastive loss satisfies

$$
\ell_i^{\mathrm{CL}} = -\frac{1}{|P(i)|}\sum_{p \in P(i)} \log p_{ip} = H(q_i, p_i)
\ \ge\ H(q_i) = \log |P(i)| ,
$$

with equality iff $p_{ip} = 1/|P(i)|$ for $p \in P(i)$ and $p_{in} = 0$ for $n \in N(i)$, which a
softmax reaches only in a limit (e.g. collapsed classes and $\tau \to 0$). So CL is bounded below
by $\log|P(i)|$, not by $0$. Under the official normalisation of the ACL code the per-anchor loss
is $\frac{|P(i)|}{N} \ell_i^{\mathrm{CL}} \ge \frac{|P(i)|}{N}\log|P(i)|$.
```

```{prf:proof}
The first equality is D3 with $q_{ij} = 1/|P(i)|$ on $P(i)$ and $0$ elsewhere (the zero terms
drop out). $H(q_i) = \log|P(i)|$ is the entropy of a uniform law ({prf:ref}`ent-prop-maxent`), and
the inequality with its equality case is {prf:ref}`ent-thm-gibbs`.
```
"""),
    ("code", """
# Symbolic: |A(i)| = 5 with P(i) = {1, 2, 3}.
ps5 = sp.symbols("p1:6", positive=True)
q5 = [sp.Rational(1, 3)] * 3 + [0, 0]
cl = -sp.Rational(1, 3) * sum(sp.log(v) for v in ps5[:3])
cross_q = -sum(qi * sp.log(v) for qi, v in zip(q5, ps5))
assert sp.simplify(cl - cross_q) == 0
assert sp.simplify(H(q5[:3]) - sp.log(3)) == 0
assert sp.simplify(cl.subs({ps5[0]: sp.Rational(1, 3), ps5[1]: sp.Rational(1, 3), ps5[2]: sp.Rational(1, 3)}) - sp.log(3)) == 0

# Numeric: the library's CL (paper normalisation) on random unit vectors, float64.
for trial in range(n_cases):
    z = torch.nn.functional.normalize(torch.randn(12, 8, dtype=torch.float64), dim=1)
    labels = torch.tensor([0] * 5 + [1] * 4 + [2] * 2 + [3])
    n_pos = torch.bincount(labels)[labels] - 1
    for norm, scale in (("paper", torch.ones(12, dtype=torch.float64)), ("official", n_pos / 12.0)):
        loss = ContrastiveLoss(temperature=0.5, normalization=norm).per_anchor(z, labels)
        bound = scale * torch.log(n_pos.clamp(min=1).double())
        assert bool((loss >= bound - 1e-12).all()), (norm, loss, bound)

# Equality in the limit: one point per class (orthogonal), small temperature.
labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
z = torch.eye(3, dtype=torch.float64)[labels]
loss = ContrastiveLoss(temperature=0.02, normalization="paper").per_anchor(z, labels)
n_pos = torch.bincount(labels)[labels] - 1
print("CL per anchor   :", loss.numpy().round(8) + 0.0)
print("log|P(i)|       :", torch.log(n_pos.double()).numpy().round(8))
assert torch.allclose(loss, torch.log(n_pos.double()), atol=1e-9)
"""),
    ("md", r"""
The focal contrastive loss (FCL) and AFCL replace $-\log p$ on a positive by the *focal term*.

```{prf:proposition} P2: the focal term
:label: ent-prop-focal
For $\gamma \ge 0$ and $p \in (0, 1]$ let $\varphi_\gamma(p) = -(1-p)^\gamma \log p$. Then

1. $\varphi_\gamma(1) = 0$;
2. $\varphi_\gamma(p) \ge 0$;
3. $\varphi_\gamma(p) \le \varphi_0(p) = -\log p$;
4. $\gamma \mapsto \varphi_\gamma(p)$ is strictly decreasing for each $p \in (0,1)$;
5. $\varphi_\gamma(p) \sim (1-p)^{\gamma+1}$ as $p \to 1$ (easy positives are switched off);
6. $\varphi_\gamma(p) \sim -\log p$ as $p \to 0$ (hard positives keep the CL penalty).

Hence, term by term, $\ell^{\mathrm{FCL}}_i \le \ell^{\mathrm{CL}}_i$ and
$\ell^{\mathrm{AFCL}}_i \le \ell^{\mathrm{ACL}}_i$, with equality when $\gamma = 0$.
```

```{prf:proof}
(1) $\log 1 = 0$. (2) $(1-p)^\gamma \ge 0$ and $-\log p \ge 0$ on $(0,1]$. (4)
$\partial_\gamma \varphi_\gamma(p) = -(1-p)^\gamma \log(1-p) \log p$; on $(0,1)$ both logarithms
are negative and $(1-p)^\gamma > 0$, so the derivative is negative. (3) follows from (4) and
$\gamma \ge 0$ (and from (1) at $p = 1$). (5) $\varphi_\gamma(p)/(1-p)^{\gamma+1} =
-\log p/(1-p) \to 1$. (6) $\varphi_\gamma(p)/(-\log p) = (1-p)^\gamma \to 1$.
```
"""),
    ("code", """
g = sp.symbols("gamma", nonnegative=True)
pp_ = sp.symbols("p", positive=True)
phi = -(1 - pp_) ** g * sp.log(pp_)
one_minus = sp.symbols("r", positive=True)                      # r = 1 - p > 0
# (1)
assert phi.subs(pp_, 1) == 0
# (2) and (4): signs of the factors on (0, 1)
assert negative_on(sp.log(pp_), pp_, unit) and negative_on(sp.log(1 - pp_), pp_, unit)
assert (one_minus**g).is_positive
dphi = sp.diff(phi, g)
assert sp.simplify(dphi - (-(1 - pp_) ** g * sp.log(1 - pp_) * sp.log(pp_))) == 0
# (3): phi_0 - phi_gamma = -(1 - (1-p)^gamma) log p, and 1 - r^gamma >= 0 for r in (0, 1], gamma >= 0
assert sp.simplify((-sp.log(pp_) - phi) - (-(1 - (1 - pp_) ** g) * sp.log(pp_))) == 0
rr = sp.symbols("rr", positive=True)
assert sp.simplify(sp.diff(rr**g, rr) - g * rr ** (g - 1)) == 0 and (g * rr ** (g - 1)).is_nonnegative
# so r -> r^gamma is non-decreasing and r^gamma <= 1^gamma = 1 on (0, 1]: 1 - (1-p)^gamma >= 0, -log p >= 0
# (5) and (6), for symbolic gamma
assert sp.limit(phi / (1 - pp_) ** (g + 1), pp_, 1, "-") == 1
assert sp.limit(phi / (-sp.log(pp_)), pp_, 0, "+") == 1
print("P2 checked")

fig, ax = plt.subplots(figsize=(6, 3.2))
grid = np.linspace(1e-3, 1, 400)
for gv in (0, 0.5, 1, 2, 5):
    ax.plot(grid, -(1 - grid) ** gv * np.log(grid), label=rf"$\\gamma = {gv}$")
ax.set_ylim(0, 4)
ax.set_xlabel("$p$ (softmax probability of a positive)")
ax.set_ylabel(r"$\\varphi_\\gamma(p)$")
ax.set_title("The focal term: larger $\\\\gamma$ silences easy positives")
ax.legend(fontsize=8)
fig.savefig(figures / "focal_term.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", r"""
## Summary

* Continuity, monotonicity and the composition law (A1–A3) force $H_n(p) = -K\sum_i p_i \log p_i$
  ({prf:ref}`ent-thm-uniqueness`); the key steps are $A(mn) = A(m) + A(n)$
  ({prf:ref}`ent-lem-additivity`) and $A(n) = K\log n$ ({prf:ref}`ent-lem-log`).
* Gibbs' inequality ({prf:ref}`ent-thm-gibbs`) gives maximum entropy at the uniform law
  ({prf:ref}`ent-prop-maxent`) and shows that the supervised contrastive loss is a cross-entropy
  that never drops below $\log|P(i)|$ ({prf:ref}`ent-cor-cl-bound`).
* The ACL negative term is the $y = 0$ branch of a binary cross-entropy ({prf:ref}`ent-def-bce`),
  and the focal term only ever lowers the CL penalty ({prf:ref}`ent-prop-focal`).
* This is the standard development, reconstructed; the paper's own appendix was unavailable.

```{admonition} Exercise
Use only the composition law A3 and $A(2) = K \log 2$ to compute
$H_3(\tfrac12, \tfrac14, \tfrac14)$. Check your answer with sympy against the formula of
{prf:ref}`ent-thm-uniqueness`.
```

```{admonition} Solution
:class: dropdown
Group the last two outcomes: the blocks $\{1\}$ and $\{2, 3\}$ have masses $\tfrac12, \tfrac12$ and
the second block is uniform inside, so
$H_3(\tfrac12,\tfrac14,\tfrac14) = A(2) + \tfrac12 A(1) + \tfrac12 A(2) = \tfrac32 K \log 2$
(with $A(1) = 0$). In sympy:
`sp.simplify(-sum(v * sp.log(v) for v in [sp.Rational(1, 2), sp.Rational(1, 4), sp.Rational(1, 4)]) - sp.Rational(3, 2) * sp.log(2)) == 0`
is `True`.
```
"""),
]
