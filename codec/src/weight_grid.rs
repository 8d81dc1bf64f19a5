//! The grids trained weights may be rounded to, so that a file embedding the decoder stores
//! them in fewer bytes: half precision, or 8-bit codes times a power of two per tensor. The
//! step of a tensor's 8-bit grid follows from its largest magnitude, so a tensor already on
//! its grid finds the same step again and its codes can be recovered exactly.

/// The nearest half-precision value (kept in f32, which holds it exactly); a weight beyond
/// half precision's range keeps its value.
pub fn half_precision(w: f32) -> f32 {
    let rounded = half::f16::from_f32(w).to_f32();
    if rounded.is_finite() {
        rounded
    } else {
        w
    }
}

/// The largest 8-bit code.
const LARGEST_CODE: f64 = 127.0;

/// The exponent k of the step 2^k that puts a tensor's largest magnitude M in (63.5, 127]
/// steps: the smallest k with M <= 127 * 2^k. None for a tensor of zeros (or one whose largest
/// magnitude is not a finite number).
fn step_exponent(values: &[f32]) -> Option<i32> {
    let largest = values.iter().fold(0.0f64, |m, &w| m.max(f64::from(w.abs())));
    if largest == 0.0 || !largest.is_finite() {
        return None;
    }
    let mut k = largest.log2().floor() as i32 - 7;
    while LARGEST_CODE * 2f64.powi(k) < largest {
        k += 1;
    }
    while LARGEST_CODE * 2f64.powi(k - 1) >= largest {
        k -= 1;
    }
    Some(k)
}

/// A tensor rounded to its 8-bit grid: each value the nearest multiple of 2^k, at most 127
/// steps from zero (and a zero positive, as code 0 is).
pub fn to_int8_grid(values: &[f32]) -> Vec<f32> {
    let Some(k) = step_exponent(values) else { return values.to_vec() };
    let step = 2f64.powi(k);
    values.iter().map(|&w| ((f64::from(w) / step).round() * step) as f32 + 0.0).collect()
}

/// The exponent and codes of a tensor that lies on its 8-bit grid exactly, or None.
pub fn int8_codes(values: &[f32]) -> Option<(i8, Vec<i8>)> {
    let k = step_exponent(values).unwrap_or(0);
    let step = 2f64.powi(k);
    let codes: Vec<i8> = values
        .iter()
        .map(|&w| {
            let code = f64::from(w) / step;
            (code.fract() == 0.0 && code.abs() <= LARGEST_CODE).then_some(code as i8)
        })
        .collect::<Option<_>>()?;
    let exponent = i8::try_from(k).ok()?;
    codes
        .iter()
        .zip(values)
        .all(|(&q, &w)| from_int8(exponent, q).to_bits() == w.to_bits())
        .then_some((exponent, codes))
}

/// The value of code `q` on the grid of step 2^`exponent`.
pub fn from_int8(exponent: i8, q: i8) -> f32 {
    (f64::from(q) * 2f64.powi(i32::from(exponent))) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tensor_on_its_grid_gives_back_its_codes() {
        let weights: Vec<f32> = (0..500).map(|i| (i as f32 * 0.37).sin() * 0.3 - 0.01).collect();
        let rounded = to_int8_grid(&weights);
        assert_eq!(to_int8_grid(&rounded), rounded, "rounding again changes nothing");
        let (exponent, codes) = int8_codes(&rounded).unwrap();
        assert_eq!(exponent, -8, "0.31 is more than 127 steps of 2^-9, at most 127 of 2^-8");
        assert!(codes.iter().any(|&q| q.unsigned_abs() >= 64));
        assert!(rounded.iter().zip(&weights).all(|(r, w)| (r - w).abs() <= 2f32.powi(-9)));
        assert!(codes.iter().zip(&rounded).all(|(&q, &r)| from_int8(exponent, q) == r));
        assert_eq!(int8_codes(&weights), None, "trained weights are not on the grid");
    }

    #[test]
    fn zeros_and_edges_of_the_range() {
        assert_eq!(int8_codes(&[0.0, 0.0]).map(|(_, q)| q), Some(vec![0, 0]));
        assert_eq!(int8_codes(&[1.0, -0.0]), None, "a negative zero has no code");
        assert_eq!(to_int8_grid(&[1.0, -1e-9]), vec![1.0, 0.0]);
        assert!(to_int8_grid(&[1.0, -1e-9])[1].is_sign_positive());
        assert_eq!(int8_codes(&[127.0, -1.0]), Some((0, vec![127, -1])));
        assert_eq!(int8_codes(&[128.0, 2.0]), Some((1, vec![64, 1])));
        assert_eq!(int8_codes(&[128.0, 1.0]), None, "1 is half a step of 2");
        assert_eq!(to_int8_grid(&[f32::INFINITY, 1.0]), vec![f32::INFINITY, 1.0]);
    }
}
