#!/usr/bin/env python3
"""Independent reference values for cambrian-eval's statistics tests.

Run: pip install scipy statsmodels numpy; python3 testdata/eval/expected_stats.py
The printed values are pasted into crates/cambrian-eval/tests/stats_reference.rs.
Methods used (none of them share code with cambrian):
  - Wilson 95 %: statsmodels.stats.proportion.proportion_confint(method="wilson")
  - exact McNemar: statsmodels.stats.contingency_tables.mcnemar(exact=True)
    cross-checked with scipy.stats.binomtest(min(b,c), b+c, 0.5).pvalue
  - Holm: statsmodels.stats.multitest.multipletests(method="holm")
  - paired Wald interval of a difference (for the bootstrap tolerance check)
"""
import numpy as np
import scipy, statsmodels
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

print(f"# scipy {scipy.__version__}, statsmodels {statsmodels.__version__}")

WILSON = [(0, 10), (1, 10), (5, 10), (10, 10), (81, 101), (57, 101), (0, 1), (1, 1), (180, 200), (1234, 2000), (3, 7), (20, 40)]
print("# wilson (k, n, lower, upper)")
for k, n in WILSON:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    print(f"({k}, {n}, {lo!r}, {hi!r}),")

MCNEMAR = [(0, 0), (1, 0), (5, 0), (3, 3), (2, 9), (9, 2), (10, 25), (40, 60), (1, 12), (0, 7), (120, 160), (300, 380)]
print("# mcnemar exact (b, c, p)")
for b, c in MCNEMAR:
    table = [[50, b], [c, 50]]
    p = mcnemar(table, exact=True).pvalue
    if b + c > 0:
        p2 = binomtest(min(b, c), b + c, 0.5).pvalue
        assert abs(p - p2) < 1e-12 * max(1, p), (b, c, p, p2)
    print(f"({b}, {c}, {float(p)!r}),")

HOLM = [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.2, 0.01],
    [0.5],
    [0.001, 0.9, 0.04, 0.04, 0.3, 0.012],
]
print("# holm (p, adjusted)")
for ps in HOLM:
    rej, adj, _, _ = multipletests(ps, alpha=0.05, method="holm")
    print(f"(vec!{ps!r}, vec!{[float(x) for x in adj]!r}),")

# Paired analytic interval for the bootstrap check: n=200, b=30 (A only), c=14 (B only).
n, b, c = 200, 30, 14
d = (b - c) / n
var = ((b + c) / n - d * d) / n
z = 1.959963984540054
print(f"# paired wald n={n} b={b} c={c}: ({float(d - z*np.sqrt(var))!r}, {float(d + z*np.sqrt(var))!r})")
