//! Small pieces of Verilog text with exact widths, so that every expression is
//! lint-clean under `verilator -Wall`: no implicit extension or truncation anywhere.

/// A `width`-bit literal holding `value` modulo 2^width.
pub fn literal(value: i128, width: u32) -> String {
    let bits = if width >= 128 { value as u128 } else { (value as u128) & ((1u128 << width) - 1) };
    format!("{width}'h{bits:x}")
}

/// `(signal << shift)` as a `width`-bit two's-complement expression, where `signal` has
/// `from` bits: sign-extended (or zero-extended when `signed` is false) when it fits,
/// the low bits otherwise. Exact modulo 2^width, which is all a sum needs when its
/// result fits in `width` bits.
pub fn fit(signal: &str, from: u32, signed: bool, shift: u32, width: u32) -> String {
    let total = from + shift;
    let zeros = |n: u32| if n == 0 { String::new() } else { format!(", {n}'b0") };
    if shift >= width {
        return literal(0, width);
    }
    if total <= width {
        let extra = width - total;
        let extension = match (extra, signed) {
            (0, _) => String::new(),
            (n, true) if from == 1 => format!("{{{n}{{{signal}}}}}, "),
            (n, true) => format!("{{{n}{{{signal}[{}]}}}}, ", from - 1),
            (n, false) => format!("{n}'b0, "),
        };
        if extension.is_empty() && shift == 0 {
            signal.to_string()
        } else {
            format!("{{{extension}{signal}{}}}", zeros(shift))
        }
    } else {
        let keep = width - shift;
        let slice = if keep == 1 { format!("{signal}[0]") } else { format!("{signal}[{}:0]", keep - 1) };
        if shift == 0 {
            slice
        } else {
            format!("{{{slice}{}}}", zeros(shift))
        }
    }
}

/// floor(signal / 2^drop) as a `width`-bit two's-complement expression, where `signal`
/// has `from` bits: its bits above the `drop` lowest, extended like `fit` extends.
pub fn fit_above(signal: &str, from: u32, signed: bool, drop: u32, width: u32) -> String {
    if drop >= from {
        return match (signed, width) {
            (false, _) => literal(0, width),
            (true, 1) => format!("{signal}[{}]", from - 1),
            (true, n) => format!("{{{n}{{{signal}[{}]}}}}", from - 1),
        };
    }
    let kept = (from - drop).min(width);
    let slice = if kept == 1 { format!("{signal}[{drop}]") } else { format!("{signal}[{}:{drop}]", drop + kept - 1) };
    match (width - kept, signed) {
        (0, _) => slice,
        (1, true) => format!("{{{signal}[{}], {slice}}}", from - 1),
        (n, true) => format!("{{{{{n}{{{signal}[{}]}}}}, {slice}}}", from - 1),
        (n, false) => format!("{{{n}'b0, {slice}}}"),
    }
}

/// A slice of `width` bits at element `index` of a packed vector.
pub fn element(vector: &str, index: usize, width: u32) -> String {
    format!("{vector}[{}:{}]", index as u64 * width as u64 + width as u64 - 1, index as u64 * width as u64)
}

/// A bit range declaration `[width-1:0]`.
pub fn range(width: u32) -> String {
    format!("[{}:0]", width.max(1) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_wrap_to_their_width() {
        assert_eq!(literal(-1, 4), "4'hf");
        assert_eq!(literal(5, 8), "8'h5");
        assert_eq!(literal(-128, 8), "8'h80");
    }

    #[test]
    fn fit_extends_shifts_and_truncates() {
        assert_eq!(fit("x", 8, true, 0, 8), "x");
        assert_eq!(fit("x", 8, true, 2, 12), "{{2{x[7]}}, x, 2'b0}");
        assert_eq!(fit("x", 8, false, 0, 10), "{2'b0, x}");
        assert_eq!(fit("x", 8, true, 3, 6), "{x[2:0], 3'b0}");
        assert_eq!(fit("x", 8, true, 6, 6), "6'h0");
        assert_eq!(fit("b", 1, true, 0, 3), "{{2{b}}, b}");
    }

    #[test]
    fn fit_above_drops_low_bits_and_extends() {
        assert_eq!(fit_above("x", 8, true, 3, 5), "x[7:3]");
        assert_eq!(fit_above("x", 8, true, 3, 7), "{{2{x[7]}}, x[7:3]}");
        assert_eq!(fit_above("x", 8, true, 3, 6), "{x[7], x[7:3]}");
        assert_eq!(fit_above("x", 8, false, 3, 7), "{2'b0, x[7:3]}");
        assert_eq!(fit_above("x", 8, true, 3, 3), "x[5:3]");
        assert_eq!(fit_above("x", 8, true, 7, 1), "x[7]");
        assert_eq!(fit_above("x", 8, true, 9, 3), "{3{x[7]}}");
        assert_eq!(fit_above("x", 8, false, 9, 3), "3'h0");
    }
}
