//! Tukey's fences: a value is far out when it lies more than a few interquartile ranges
//! beyond the quartiles. Only the lower fence matters for densities: rare samples have low ones.

/// Q1 - `multiplier` × (Q3 - Q1) of `values`; Tukey calls 3 the far-out fence.
pub fn lower_fence(values: &[f64], multiplier: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (q1, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.75));
    q1 - multiplier * (q3 - q1)
}

/// The `q` quantile of sorted values, interpolating linearly between neighbours (NaN for none).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else { return f64::NAN };
    let position = q * last as f64;
    let (below, fraction) = (position.floor() as usize, position.fract());
    let above = (below + 1).min(last);
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_as_numpy_does() {
        let values = [7.0, 1.0, 3.0, 5.0, 9.0];
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        assert_eq!((quantile(&sorted, 0.25), quantile(&sorted, 0.75)), (3.0, 7.0));
        assert_eq!(quantile(&[1.0, 2.0], 0.25), 1.25);
        assert_eq!(lower_fence(&values, 3.0), 3.0 - 3.0 * 4.0);
        assert_eq!(lower_fence(&[4.0], 3.0), 4.0);
        assert!(lower_fence(&[], 3.0).is_nan());
    }

    #[test]
    fn only_far_out_values_fall_below() {
        let mut values: Vec<f64> = (0..1000).map(|i| (i % 100) as f64 / 100.0).collect();
        values.extend([-5.0, -0.6]);
        let fence = lower_fence(&values, 3.0);
        let below: Vec<f64> = values.iter().copied().filter(|&v| v < fence).collect();
        assert_eq!(below, vec![-5.0]);
    }
}
