//! Statistics over per-item correctness: Wilson score intervals, the exact
//! McNemar test, Holm's step-down correction, a seeded paired bootstrap of
//! an accuracy difference, and percentiles.
//!
//! Every function is pure and documented with its formula so that a number
//! in a report can be traced back to its inputs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The normal quantile for a two-sided 95 % interval, Φ⁻¹(0.975).
pub const Z95: f64 = 1.959_963_984_540_054;

/// A proportion with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub successes: u64,
    pub n: u64,
    /// `successes / n` (0 when `n == 0`).
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Proportion {
    /// The Wilson score 95 % interval of `successes / n`.
    pub fn wilson95(successes: u64, n: u64) -> Proportion {
        let (lower, upper) = wilson(successes, n, Z95);
        let value = if n == 0 {
            0.0
        } else {
            successes as f64 / n as f64
        };
        Proportion {
            successes,
            n,
            value,
            lower,
            upper,
        }
    }
}

/// Wilson score interval for `k` successes out of `n`:
///
/// centre = (p̂ + z²/2n) / (1 + z²/n),
/// half   = z·√(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n).
///
/// Returns `(0, 1)` when `n == 0` (no information). `k` is clamped to `n`.
pub fn wilson(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let k = k.min(n);
    let nf = n as f64;
    let p = k as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    // Exact endpoints at k = 0 and k = n (avoid −1e-17 from rounding).
    let lower = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let upper = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lower, upper)
}

/// Exact (binomial) two-sided McNemar p-value for discordant counts `b`
/// (A right, B wrong) and `c` (A wrong, B right):
///
/// p = min(1, 2 · P[X ≤ min(b, c)]), X ~ Binomial(b + c, ½).
///
/// `b + c == 0` gives p = 1. Computed in log space, so any n works.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // log C(n, i) by recurrence, summed with log-sum-exp.
    let mut log_terms = Vec::with_capacity(usize::try_from(k).unwrap_or(0).saturating_add(1));
    let mut log_c = 0.0f64;
    log_terms.push(log_c);
    for i in 0..k {
        log_c += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        log_terms.push(log_c);
    }
    let max = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = log_terms.iter().map(|t| (t - max).exp()).sum();
    let log_cdf = max + sum.ln() - (n as f64) * std::f64::consts::LN_2;
    (2.0 * log_cdf.exp()).min(1.0)
}

/// Holm's step-down adjustment of `p` (same order out as in):
/// sort ascending p₍₁₎ ≤ … ≤ p₍ₘ₎, adjusted p₍ᵢ₎ = maxⱼ≤ᵢ min(1, (m − j + 1)·p₍ⱼ₎).
/// Matches `statsmodels.stats.multitest.multipletests(method="holm")`.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &idx) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[idx]).min(1.0);
        running = running.max(adj);
        out[idx] = running;
    }
    out
}

/// Percentile with linear interpolation between closest ranks (NumPy's
/// default, "linear" / Hyndman–Fan type 7). `q` in [0, 1]. `None` on empty input.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(percentile_sorted(&v, q))
}

fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let q = q.clamp(0.0, 1.0);
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let (a, b) = (v[lo.min(v.len() - 1)], v[hi.min(v.len() - 1)]);
    a + (b - a) * (h - lo as f64)
}

/// Result of a paired bootstrap of acc(A) − acc(B).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapCi {
    /// Observed difference of accuracies on the paired items.
    pub diff: f64,
    pub lower: f64,
    pub upper: f64,
    pub resamples: u32,
    pub seed: u64,
}

/// Paired percentile bootstrap 95 % interval of mean(a) − mean(b), where
/// `a[i]`, `b[i]` are the correctness of the two models on item i.
///
/// Each of `resamples` rounds draws n item indices uniformly with
/// replacement (ChaCha8 seeded with `seed`) and computes the difference of
/// accuracies on the draw; the interval is the 2.5th and 97.5th percentile
/// (linear interpolation) of those differences. Deterministic for a seed.
/// `None` if the slices are empty or of different lengths.
pub fn paired_bootstrap(a: &[bool], b: &[bool], resamples: u32, seed: u64) -> Option<BootstrapCi> {
    if a.is_empty() || a.len() != b.len() || resamples == 0 {
        return None;
    }
    let n = a.len();
    // Per-item difference in {-1, 0, 1}: only this matters for the mean difference.
    let d: Vec<i32> = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) - i32::from(y))
        .collect();
    let diff = d.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut diffs = Vec::with_capacity(resamples as usize);
    for _ in 0..resamples {
        let mut s: i64 = 0;
        for _ in 0..n {
            s += i64::from(d[rng.random_range(0..n)]);
        }
        diffs.push(s as f64 / n as f64);
    }
    diffs.sort_by(f64::total_cmp);
    Some(BootstrapCi {
        diff,
        lower: percentile_sorted(&diffs, 0.025),
        upper: percentile_sorted(&diffs, 0.975),
        resamples,
        seed,
    })
}

/// The analytic (Wald) 95 % interval of a paired difference of proportions,
/// d̄ ± z·√((b + c)/n − (b − c)²/n²)/√n, used to sanity-check the bootstrap.
pub fn paired_wald(b: u64, c: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    let nf = n as f64;
    let d = (b as f64 - c as f64) / nf;
    let var = ((b + c) as f64 / nf - d * d).max(0.0) / nf;
    let half = Z95 * var.sqrt();
    (d - half, d + half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_edges() {
        assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
        let (l, u) = wilson(0, 10, Z95);
        assert_eq!(l, 0.0);
        assert!(u > 0.2 && u < 0.4);
        let (l, u) = wilson(10, 10, Z95);
        assert_eq!(u, 1.0);
        assert!(l > 0.6 && l < 0.8);
    }

    #[test]
    fn mcnemar_symmetric_and_bounded() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(2, 9), mcnemar_exact(9, 2));
        // Large n must not underflow to NaN.
        let p = mcnemar_exact(10_000, 12_000);
        assert!(p.is_finite() && p < 1e-20);
    }

    #[test]
    fn percentile_linear() {
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
    }
}
