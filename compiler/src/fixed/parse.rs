//! The spellings users know from Vivado HLS and hls4ml: `ap_fixed<16,6>`,
//! `ap_ufixed<8,0,AP_RND,AP_SAT>`, `ap_int<8>`, `fixed<16,6,RND_CONV,SAT>`.

use super::{FixedType, FixedTypeError, Overflow, Quantization};
use std::fmt;
use std::str::FromStr;

const QUANTIZATIONS: [(&str, Quantization); 7] = [
    ("AP_TRN", Quantization::Trn),
    ("AP_TRN_ZERO", Quantization::TrnZero),
    ("AP_RND", Quantization::Rnd),
    ("AP_RND_ZERO", Quantization::RndZero),
    ("AP_RND_MIN_INF", Quantization::RndMinInf),
    ("AP_RND_INF", Quantization::RndInf),
    ("AP_RND_CONV", Quantization::RndConv),
];

const OVERFLOWS: [(&str, Overflow); 5] = [
    ("AP_WRAP", Overflow::Wrap),
    ("AP_SAT", Overflow::Sat),
    ("AP_SAT_ZERO", Overflow::SatZero),
    ("AP_SAT_SYM", Overflow::SatSym),
    ("AP_WRAP_SM", Overflow::WrapSm),
];

fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    let word = word.to_ascii_uppercase();
    let word = word.strip_prefix("AP_").unwrap_or(&word);
    table.iter().find(|(name, _)| &name[3..] == word).map(|&(_, v)| v)
}

fn spelling<T: PartialEq>(table: &[(&'static str, T)], value: T) -> &'static str {
    table.iter().find(|(_, v)| *v == value).map(|&(name, _)| name).expect("every mode is spelled")
}

impl FromStr for FixedType {
    type Err = FixedTypeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| FixedTypeError::Parse { text: text.to_string(), reason };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (kind, rest) = compact
            .split_once('<')
            .ok_or_else(|| fail("expected a form like ap_fixed<16,6>".into()))?;
        let params = rest
            .strip_suffix('>')
            .ok_or_else(|| fail("missing the closing '>'".into()))?;
        let params: Vec<&str> = params.split(',').collect();
        let (signed, integer) = match kind {
            "ap_fixed" | "fixed" => (true, false),
            "ap_ufixed" | "ufixed" => (false, false),
            "ap_int" | "int" => (true, true),
            "ap_uint" | "uint" => (false, true),
            _ => return Err(fail(format!("unknown type '{kind}' (expected ap_fixed, ap_ufixed, ap_int or ap_uint)"))),
        };
        let number = |s: &str, what: &str| {
            s.parse::<i64>().map_err(|_| fail(format!("{what} '{s}' is not an integer")))
        };
        let width = number(params[0], "width")?;
        if !(1..=super::MAX_WIDTH as i64).contains(&width) {
            return Err(fail(format!("width {width} is outside 1..={}", super::MAX_WIDTH)));
        }
        let max_params = if integer { 1 } else { 5 };
        if params.len() > max_params || (!integer && params.len() < 2) {
            return Err(fail(format!("{kind} takes {} parameters", if integer { "1" } else { "2 to 5" })));
        }
        let int_bits = if integer { width } else { number(params[1], "integer bits")? };
        let quantization = match params.get(2) {
            None => Quantization::Trn,
            Some(word) => lookup(&QUANTIZATIONS, word).ok_or_else(|| {
                fail(format!("unknown quantization mode '{word}' (expected one of AP_TRN, AP_TRN_ZERO, AP_RND, AP_RND_ZERO, AP_RND_MIN_INF, AP_RND_INF, AP_RND_CONV)"))
            })?,
        };
        let overflow = match params.get(3) {
            None => Overflow::Wrap,
            Some(word) => lookup(&OVERFLOWS, word).ok_or_else(|| {
                fail(format!("unknown overflow mode '{word}' (expected one of AP_WRAP, AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, AP_WRAP_SM)"))
            })?,
        };
        let saturation_bits = match params.get(4) {
            None => 0,
            Some(n) => number(n, "saturation bits")?,
        };
        if saturation_bits < 0 || saturation_bits > width {
            return Err(fail(format!("saturation bits {saturation_bits} must lie in 0..={width}")));
        }
        FixedType {
            width: width as u32,
            int_bits: int_bits as i32,
            signed,
            quantization,
            overflow,
            saturation_bits: saturation_bits as u32,
        }
        .validated()
        .map_err(|e| fail(e.to_string()))
    }
}

impl fmt::Display for FixedType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.signed { "ap_fixed" } else { "ap_ufixed" };
        write!(f, "{kind}<{},{}", self.width, self.int_bits)?;
        if !self.is_default_modes() {
            write!(
                f,
                ",{},{}",
                spelling(&QUANTIZATIONS, self.quantization),
                spelling(&OVERFLOWS, self.overflow)
            )?;
            if self.saturation_bits != 0 {
                write!(f, ",{}", self.saturation_bits)?;
            }
        }
        write!(f, ">")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_usual_spellings() {
        for (text, canonical) in [
            ("ap_fixed<16,6>", "ap_fixed<16,6>"),
            ("ap_fixed< 16 , 6 , AP_RND_CONV , AP_SAT >", "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"),
            ("ap_ufixed<8,0,AP_RND,AP_SAT>", "ap_ufixed<8,0,AP_RND,AP_SAT>"),
            ("ap_fixed<18,8,AP_RND,AP_WRAP,2>", "ap_fixed<18,8,AP_RND,AP_WRAP,2>"),
            ("ap_fixed<8,4,AP_RND>", "ap_fixed<8,4,AP_RND,AP_WRAP>"),
            ("fixed<16,6,RND,SAT>", "ap_fixed<16,6,AP_RND,AP_SAT>"),
            ("ufixed<10,2>", "ap_ufixed<10,2>"),
            ("ap_int<8>", "ap_fixed<8,8>"),
            ("ap_uint<12>", "ap_ufixed<12,12>"),
            ("ap_fixed<8,-2>", "ap_fixed<8,-2>"),
            ("ap_fixed<8,12>", "ap_fixed<8,12>"),
        ] {
            let ty: FixedType = text.parse().unwrap();
            assert_eq!(ty.to_string(), canonical);
            assert_eq!(ty.to_string().parse::<FixedType>().unwrap(), ty);
        }
    }

    #[test]
    fn rejects_what_hls_rejects_with_a_reason() {
        for (text, needle) in [
            ("ap_fixed<0,0>", "width 0"),
            ("ap_fixed<65,6>", "width 65"),
            ("ap_fixed<16>", "2 to 5"),
            ("ap_fixed<16,6,AP_ROUND>", "AP_ROUND"),
            ("ap_fixed<16,6,AP_RND,AP_CLAMP>", "AP_CLAMP"),
            ("ap_fixed<16,6,AP_RND,AP_WRAP,17>", "saturation bits 17"),
            ("float<16,6>", "unknown type"),
            ("ap_fixed<16,x>", "'x'"),
            ("ap_ufixed<64,10>", "63 bits"),
            ("ap_fixed16,6", "expected a form"),
        ] {
            let err = text.parse::<FixedType>().unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(text.split('<').next().unwrap()), "{text}: {err}");
        }
    }
}
