//! Numbers as a person reads them in a table or a summary: four significant digits, in plain
//! decimals for everyday magnitudes and in scientific notation beyond them.

/// `value` to four significant digits: `0.2114`, `365.9`, `3639`, `-2.256e-5`, `1.2e+07` is
/// `1.200e7`; zero is `0`.
pub fn four_significant(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    // The exponent after rounding: 0.00099999 is 1.000e-3, not 9.99e-4.
    let scientific = format!("{value:.3e}");
    let magnitude: i32 = scientific.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
    match magnitude {
        -4..=5 => format!("{:.*}", (3 - magnitude).max(0) as usize, value),
        _ => scientific,
    }
}

#[cfg(test)]
mod tests {
    use super::four_significant;

    #[test]
    fn everyday_magnitudes_in_decimals_the_rest_in_scientific_notation() {
        let cases = [
            (0.2114, "0.2114"),
            (365.94, "365.9"),
            (3639.2, "3639"),
            (-2.2561e-5, "-2.256e-5"),
            (5.7771e-4, "0.0005777"),
            (0.07200000000000001, "0.07200"),
            (123456.7, "123457"),
            (1.2e7, "1.200e7"),
            (0.0, "0"),
            (0.000999999999, "0.001000"),
            (99999.9, "100000"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(four_significant(value), expected, "{value}");
        }
    }
}
