//! The statistical methods of national public-health profiles: Wilson score
//! intervals (exact z), Newcombe's hybrid score interval for a difference of two
//! proportions, comparison with a benchmark by polarity, and the chi-squared
//! test for trend. Invalid input is an error, never a number.

use serde::{Deserialize, Serialize};

/// Exact normal quantiles (never a rounded 1.96).
pub const Z95: f64 = 1.959963984540054;
pub const Z998: f64 = 3.090232306167813;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("invalid proportion {x}/{n}: need 0 ≤ x ≤ n and n > 0")]
    InvalidProportion { x: f64, n: f64 },
    #[error("invalid mean: need n >= 2 values and a finite standard deviation (n = {n}, sd = {sd})")]
    InvalidMean { n: f64, sd: f64 },
}

/// A confidence interval for a proportion, on the 0–1 scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

fn check(x: f64, n: f64) -> Result<(), StatsError> {
    if !(x.is_finite() && n.is_finite()) || x < 0.0 || n <= 0.0 || x > n {
        return Err(StatsError::InvalidProportion { x, n });
    }
    Ok(())
}

/// Wilson score interval for `x` events in `n`, at the normal quantile `z`.
pub fn wilson(x: f64, n: f64, z: f64) -> Result<Interval, StatsError> {
    check(x, n)?;
    let z2 = z * z;
    let centre = 2.0 * x + z2;
    let spread = z * (z2 + 4.0 * x * (1.0 - x / n)).max(0.0).sqrt();
    let denom = 2.0 * (n + z2);
    // At x = 0 and x = n the limits are 0 and 1 exactly (rounding would leave
    // 0.99999999999999997 or a tiny ± number).
    Ok(Interval {
        lower: if x == 0.0 {
            0.0
        } else {
            ((centre - spread) / denom).clamp(0.0, 1.0)
        },
        upper: if x == n {
            1.0
        } else {
            ((centre + spread) / denom).clamp(0.0, 1.0)
        },
    })
}

/// Newcombe's hybrid score interval for p1 − p2 (independent proportions), built
/// from the two Wilson intervals; on the −1–1 scale.
pub fn newcombe(x1: f64, n1: f64, x2: f64, n2: f64, z: f64) -> Result<Interval, StatsError> {
    let a = wilson(x1, n1, z)?;
    let b = wilson(x2, n2, z)?;
    Ok(mover(x1 / n1, a, x2 / n2, b))
}

/// The interval for a mean of `n` values with sample standard deviation `sd`,
/// at `confidence` (0.95, 0.998): mean ± t × sd/√n with Student's t on n − 1
/// degrees of freedom, as the public-health methods (`phe_mean`) give it. Needs
/// n ≥ 2.
pub fn mean_interval(mean: f64, sd: f64, n: f64, confidence: f64) -> Result<Interval, StatsError> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if !(n >= 2.0 && sd >= 0.0 && mean.is_finite() && sd.is_finite()) {
        return Err(StatsError::InvalidMean { n, sd });
    }
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .map_err(|_| StatsError::InvalidMean { n, sd })?
        .inverse_cdf(0.5 + confidence / 2.0);
    let half = t * sd / n.sqrt();
    Ok(Interval {
        lower: mean - half,
        upper: mean + half,
    })
}

/// MOVER (method of variance estimates recovery; Zou & Donner 2008): an interval
/// for `e1 − e2`, two independent estimates, from each one's own interval at the
/// same level. Newcombe's interval is MOVER over two Wilson intervals; the change
/// of a gap between two years is MOVER over the two years' Newcombe intervals.
pub fn mover(e1: f64, ci1: Interval, e2: f64, ci2: Interval) -> Interval {
    let d = e1 - e2;
    Interval {
        lower: d - ((e1 - ci1.lower).powi(2) + (ci2.upper - e2).powi(2)).sqrt(),
        upper: d + ((ci1.upper - e1).powi(2) + (e2 - ci2.lower).powi(2)).sqrt(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    HigherIsBetter,
    LowerIsBetter,
    NotApplicable,
}

/// How an area compares with its benchmark, worded as the national profiles do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Better: the benchmark is outside the area's 95% interval (not its 99.8%).
    Better95,
    /// Better: the benchmark is outside the area's 99.8% interval too.
    Better998,
    Similar,
    Worse95,
    Worse998,
    /// No polarity: significantly lower / higher than the benchmark (95%).
    Lower,
    Higher,
    NotCompared,
}

impl Comparison {
    pub const ALL: [Comparison; 8] = [
        Comparison::Better998,
        Comparison::Better95,
        Comparison::Similar,
        Comparison::Worse95,
        Comparison::Worse998,
        Comparison::Lower,
        Comparison::Higher,
        Comparison::NotCompared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Better95 => "better_95",
            Comparison::Better998 => "better_998",
            Comparison::Similar => "similar",
            Comparison::Worse95 => "worse_95",
            Comparison::Worse998 => "worse_998",
            Comparison::Lower => "lower",
            Comparison::Higher => "higher",
            Comparison::NotCompared => "not_compared",
        }
    }

    pub fn parse(text: &str) -> Option<Comparison> {
        Comparison::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// In words, for people (a report's cell, a target's status).
    pub fn wording(self) -> &'static str {
        match self {
            Comparison::Better95 => "better (95%)",
            Comparison::Better998 => "better (99.8%)",
            Comparison::Similar => "similar",
            Comparison::Worse95 => "worse (95%)",
            Comparison::Worse998 => "worse (99.8%)",
            Comparison::Lower => "lower",
            Comparison::Higher => "higher",
            Comparison::NotCompared => "not compared",
        }
    }

    pub fn is_better(self) -> bool {
        matches!(self, Comparison::Better95 | Comparison::Better998)
    }

    pub fn is_worse(self) -> bool {
        matches!(self, Comparison::Worse95 | Comparison::Worse998)
    }
}

/// Compare a benchmark value with the area's 95% interval (and 99.8% for the
/// two-level method, when given): the benchmark inside → similar; outside →
/// better or worse by polarity (`_998` when outside the 99.8% interval too), or
/// lower / higher when the indicator has no polarity.
pub fn compare(benchmark: f64, ci95: Interval, ci998: Option<Interval>, polarity: Polarity) -> Comparison {
    if !benchmark.is_finite() {
        return Comparison::NotCompared;
    }
    let area_above = benchmark < ci95.lower;
    let area_below = benchmark > ci95.upper;
    if !area_above && !area_below {
        return Comparison::Similar;
    }
    if polarity == Polarity::NotApplicable {
        return if area_above {
            Comparison::Higher
        } else {
            Comparison::Lower
        };
    }
    let far = ci998.is_some_and(|c| benchmark < c.lower || benchmark > c.upper);
    let good = (area_above && polarity == Polarity::HigherIsBetter)
        || (area_below && polarity == Polarity::LowerIsBetter);
    match (good, far) {
        (true, true) => Comparison::Better998,
        (true, false) => Comparison::Better95,
        (false, true) => Comparison::Worse998,
        (false, false) => Comparison::Worse95,
    }
}

/// The direction of a significant trend (the statistic); [`Trend::label`] words
/// it with the indicator's polarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Increasing,
    Decreasing,
    NoSignificantChange,
    CannotBeCalculated,
}

impl Trend {
    /// The published word: `increasing_getting_better`, …; `increasing` /
    /// `decreasing` where polarity does not apply.
    pub fn label(self, polarity: Polarity) -> &'static str {
        use Polarity::*;
        match (self, polarity) {
            (Trend::Increasing, HigherIsBetter) => "increasing_getting_better",
            (Trend::Increasing, LowerIsBetter) => "increasing_getting_worse",
            (Trend::Decreasing, HigherIsBetter) => "decreasing_getting_worse",
            (Trend::Decreasing, LowerIsBetter) => "decreasing_getting_better",
            (Trend::Increasing, NotApplicable) => "increasing",
            (Trend::Decreasing, NotApplicable) => "decreasing",
            (Trend::NoSignificantChange, _) => "no_significant_change",
            (Trend::CannotBeCalculated, _) => "cannot_be_calculated",
        }
    }
}

/// Chi-squared test for trend over the most recent five comparable points
/// (`(x, n)` oldest first, consecutive and from one series). Significant when
/// χ² > 3.0902² (99.8%); direction from the slope of logit(p) over time (from the
/// sign of the test statistic when a point is 0% or 100%).
pub fn trend(points: &[(f64, f64)]) -> Result<Trend, StatsError> {
    if points.len() < 5 {
        return Ok(Trend::CannotBeCalculated);
    }
    let pts = &points[points.len() - 5..];
    for (x, n) in pts {
        check(*x, *n)?;
    }
    let big_n: f64 = pts.iter().map(|p| p.1).sum();
    let big_x: f64 = pts.iter().map(|p| p.0).sum();
    let pbar = big_x / big_n;
    if pbar <= 0.0 || pbar >= 1.0 {
        return Ok(Trend::NoSignificantChange);
    }
    let t: Vec<f64> = (1..=5).map(f64::from).collect();
    let tbar: f64 = pts.iter().zip(&t).map(|(p, t)| p.1 * t).sum::<f64>() / big_n;
    let stat: f64 = pts.iter().zip(&t).map(|(p, t)| p.0 * (t - tbar)).sum();
    let var: f64 = pbar
        * (1.0 - pbar)
        * pts
            .iter()
            .zip(&t)
            .map(|(p, t)| p.1 * (t - tbar).powi(2))
            .sum::<f64>();
    let chi2 = stat * stat / var;
    if chi2 <= Z998 * Z998 {
        return Ok(Trend::NoSignificantChange);
    }
    let logits: Option<Vec<f64>> = pts
        .iter()
        .map(|(x, n)| {
            let p = x / n;
            (p > 0.0 && p < 1.0).then(|| (p / (1.0 - p)).ln())
        })
        .collect();
    let slope = match logits {
        Some(l) => {
            let lbar = l.iter().sum::<f64>() / 5.0;
            l.iter().zip(&t).map(|(l, t)| (l - lbar) * (t - 3.0)).sum::<f64>()
        }
        None => stat,
    };
    Ok(if slope > 0.0 {
        Trend::Increasing
    } else {
        Trend::Decreasing
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Student's t quantiles from R: qt(0.975, 9) = 2.262157, qt(0.999, 9) = 4.296806,
    /// qt(0.975, 1) = 12.7062; with many values t approaches z.
    #[test]
    fn mean_interval_uses_students_t() {
        let ci = mean_interval(10.0, 3.0, 10.0, 0.95).unwrap();
        let half = 2.262157 * 3.0 / 10f64.sqrt();
        assert!(
            (ci.lower - (10.0 - half)).abs() < 1e-5 && (ci.upper - (10.0 + half)).abs() < 1e-5,
            "{ci:?}"
        );
        let wide = mean_interval(10.0, 3.0, 10.0, 0.998).unwrap();
        assert!(
            (wide.upper - (10.0 + 4.296806 * 3.0 / 10f64.sqrt())).abs() < 1e-5,
            "{wide:?}"
        );
        let two = mean_interval(0.0, 1.0, 2.0, 0.95).unwrap();
        assert!((two.upper - 12.7062 / 2f64.sqrt()).abs() < 1e-3, "{two:?}");
        let many = mean_interval(0.0, 1.0, 1e6, 0.95).unwrap();
        assert!((many.upper * 1000.0 - Z95).abs() < 1e-4, "{many:?}");
        assert!(mean_interval(1.0, 1.0, 1.0, 0.95).is_err());
    }
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn limits_are_exact_at_zero_and_all() {
        for n in [1.0, 7.0, 145.0, 623.0, 9999.0] {
            for z in [Z95, Z998] {
                let all = wilson(n, n, z).unwrap();
                assert_eq!(all.upper, 1.0);
                assert!(all.lower < 1.0 && all.lower > 0.0);
                let none = wilson(0.0, n, z).unwrap();
                assert_eq!(none.lower, 0.0);
                assert!(none.upper > 0.0 && none.upper < 1.0);
                assert_eq!(100.0 * all.upper, 100.0);
            }
        }
    }

    #[test]
    fn wilson_matches_the_formula_worked_by_hand() {
        // 65 of 100: 55.2544% – 73.6358% (worked by hand from the formula in shared/domain.md).
        let i = wilson(65.0, 100.0, Z95).unwrap();
        assert!((i.lower * 100.0 - 55.2544).abs() < 1e-3, "{i:?}");
        assert!((i.upper * 100.0 - 73.6358).abs() < 1e-3, "{i:?}");
        // 0 of 10 and 10 of 10 are finite and inside [0, 1].
        let z = wilson(0.0, 10.0, Z95).unwrap();
        assert!(close(z.lower, 0.0) && z.upper > 0.0);
        let f = wilson(10.0, 10.0, Z95).unwrap();
        assert!(close(f.upper, 1.0) && f.lower < 1.0);
    }

    #[test]
    fn invalid_input_is_an_error() {
        assert!(wilson(-1.0, 10.0, Z95).is_err());
        assert!(wilson(1.0, 0.0, Z95).is_err());
        assert!(wilson(11.0, 10.0, Z95).is_err());
        assert!(wilson(f64::NAN, 10.0, Z95).is_err());
        assert!(newcombe(1.0, 0.0, 1.0, 2.0, Z95).is_err());
        assert!(trend(&[(1.0, 2.0), (1.0, 2.0), (1.0, 2.0), (3.0, 2.0), (1.0, 2.0)]).is_err());
    }

    #[test]
    fn newcombe_matches_newcombe_1998() {
        // Newcombe (1998), example (a): 56/70 − 48/80, hybrid score 95% CI 0.0524 to 0.3339.
        let i = newcombe(56.0, 70.0, 48.0, 80.0, Z95).unwrap();
        assert!((i.lower - 0.0524).abs() < 5e-4, "{i:?}");
        assert!((i.upper - 0.3339).abs() < 5e-4, "{i:?}");
    }

    #[test]
    fn comparisons_follow_polarity() {
        let ci = Interval {
            lower: 0.60,
            upper: 0.70,
        };
        let wide = Interval {
            lower: 0.55,
            upper: 0.75,
        };
        use Polarity::*;
        assert_eq!(compare(0.65, ci, Some(wide), HigherIsBetter), Comparison::Similar);
        assert_eq!(
            compare(0.58, ci, Some(wide), HigherIsBetter),
            Comparison::Better95
        );
        assert_eq!(
            compare(0.50, ci, Some(wide), HigherIsBetter),
            Comparison::Better998
        );
        assert_eq!(compare(0.72, ci, Some(wide), HigherIsBetter), Comparison::Worse95);
        assert_eq!(
            compare(0.80, ci, Some(wide), HigherIsBetter),
            Comparison::Worse998
        );
        assert_eq!(compare(0.58, ci, Some(wide), LowerIsBetter), Comparison::Worse95);
        assert_eq!(compare(0.80, ci, None, LowerIsBetter), Comparison::Better95);
        assert_eq!(compare(0.80, ci, None, NotApplicable), Comparison::Lower);
        assert_eq!(compare(0.50, ci, Some(wide), NotApplicable), Comparison::Higher);
        assert_eq!(compare(0.65, ci, None, NotApplicable), Comparison::Similar);
        assert_eq!(
            compare(f64::NAN, ci, None, HigherIsBetter),
            Comparison::NotCompared
        );
        for c in Comparison::ALL {
            assert_eq!(Comparison::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn trends() {
        let rising: Vec<(f64, f64)> = [50.0, 55.0, 60.0, 65.0, 70.0]
            .iter()
            .map(|p| (p * 10.0, 1000.0))
            .collect();
        assert_eq!(trend(&rising).unwrap(), Trend::Increasing);
        let falling: Vec<(f64, f64)> = rising.iter().rev().copied().collect();
        assert_eq!(trend(&falling).unwrap(), Trend::Decreasing);
        let flat = vec![(500.0, 1000.0); 5];
        assert_eq!(trend(&flat).unwrap(), Trend::NoSignificantChange);
        assert_eq!(trend(&rising[..4]).unwrap(), Trend::CannotBeCalculated);
        // Small numbers: a real rise that is not significant.
        let small: Vec<(f64, f64)> = [5.0, 5.0, 6.0, 6.0, 7.0].iter().map(|x| (*x, 10.0)).collect();
        assert_eq!(trend(&small).unwrap(), Trend::NoSignificantChange);
        assert_eq!(
            Trend::Increasing.label(Polarity::HigherIsBetter),
            "increasing_getting_better"
        );
        assert_eq!(
            Trend::Increasing.label(Polarity::LowerIsBetter),
            "increasing_getting_worse"
        );
        assert_eq!(
            Trend::Decreasing.label(Polarity::HigherIsBetter),
            "decreasing_getting_worse"
        );
        assert_eq!(
            Trend::Decreasing.label(Polarity::LowerIsBetter),
            "decreasing_getting_better"
        );
        assert_eq!(Trend::Decreasing.label(Polarity::NotApplicable), "decreasing");
    }

    proptest! {
        #[test]
        fn wilson_is_a_proper_interval(n in 1u32..5000, frac in 0.0f64..=1.0) {
            let n = n as f64;
            let x = (n * frac).floor();
            let p = x / n;
            let a = wilson(x, n, Z95).unwrap();
            let b = wilson(x, n, Z998).unwrap();
            prop_assert!(0.0 <= a.lower && a.upper <= 1.0);
            prop_assert!(a.lower <= p + 1e-12 && p <= a.upper + 1e-12);
            // the 99.8% interval contains the 95% one
            prop_assert!(b.lower <= a.lower + 1e-12 && a.upper <= b.upper + 1e-12);
            // x/n and (n−x)/n mirror each other
            let m = wilson(n - x, n, Z95).unwrap();
            prop_assert!((a.lower - (1.0 - m.upper)).abs() < 1e-9);
            prop_assert!((a.upper - (1.0 - m.lower)).abs() < 1e-9);
        }

        #[test]
        fn newcombe_contains_the_difference(n1 in 1u32..2000, f1 in 0.0f64..=1.0, n2 in 1u32..2000, f2 in 0.0f64..=1.0) {
            let (n1, n2) = (n1 as f64, n2 as f64);
            let (x1, x2) = ((n1 * f1).floor(), (n2 * f2).floor());
            let i = newcombe(x1, n1, x2, n2, Z95).unwrap();
            let d = x1 / n1 - x2 / n2;
            prop_assert!(i.lower <= d + 1e-12 && d <= i.upper + 1e-12);
            prop_assert!(-1.0 - 1e-12 <= i.lower && i.upper <= 1.0 + 1e-12);
        }

        /// With symmetric intervals (e ± a, e ± b) MOVER is the familiar
        /// d ± √(a² + b²); and it always holds the difference.
        #[test]
        fn mover_with_symmetric_intervals_adds_variances(
            e1 in -50.0f64..50.0, a in 0.0f64..20.0, e2 in -50.0f64..50.0, b in 0.0f64..20.0,
        ) {
            let i = mover(e1, Interval { lower: e1 - a, upper: e1 + a }, e2, Interval { lower: e2 - b, upper: e2 + b });
            let half = (a * a + b * b).sqrt();
            prop_assert!((i.lower - (e1 - e2 - half)).abs() < 1e-9);
            prop_assert!((i.upper - (e1 - e2 + half)).abs() < 1e-9);
        }

        #[test]
        fn invalid_counts_never_give_numbers(x in -100.0f64..100.0, n in -100.0f64..100.0) {
            if x < 0.0 || n <= 0.0 || x > n {
                prop_assert!(wilson(x, n, Z95).is_err());
            }
        }
    }
}
