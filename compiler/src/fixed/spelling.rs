//! The HLS spelling of a type: parsing, printing, and serde through it.

use std::fmt;
use std::str::FromStr;

use super::{FixedType, FixedTypeError, Overflow, Quantization};

const FORMS: &str = "ap_fixed<W,I[,Q[,O[,N]]]>, ap_ufixed<...>, ap_int<W>, ap_uint<W>, \
                     or hls4ml's fixed<...>, ufixed<...>, int<W>, uint<W>";

impl FromStr for FixedType {
    type Err = FixedTypeError;

    /// Reads `ap_fixed<18,8,AP_RND_CONV,AP_SAT>`, hls4ml's `ufixed<16,6,RND,SAT>`, `ap_int<8>`
    /// and the like, with whitespace around any part.
    ///
    /// `ap_int<W>` becomes `ap_fixed<W,W>` and is printed that way: same storage and arithmetic,
    /// but the headers' `ap_int` converts differently. From a fixed-point value it truncates
    /// toward zero (and `ap_fixed<8,0>(-0.25)` gives -1); from a double it truncates the
    /// magnitude, and a tiny negative double gives +1.
    fn from_str(text: &str) -> Result<Self, FixedTypeError> {
        parse(text).map_err(|reason| FixedTypeError::Parse { text: text.to_string(), reason })
    }
}

fn parse(text: &str) -> Result<FixedType, String> {
    let syntax = || format!("expected {FORMS}");
    let (name, rest) = text.split_once('<').ok_or_else(syntax)?;
    let args = rest.trim_end().strip_suffix('>').ok_or_else(syntax)?;
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let (signed, integer) = match name.trim() {
        "ap_fixed" | "fixed" => (true, false),
        "ap_ufixed" | "ufixed" => (false, false),
        "ap_int" | "int" => (true, true),
        "ap_uint" | "uint" => (false, true),
        other => return Err(format!("unknown type name `{other}`; {}", syntax())),
    };
    let (arity, wanted) = if integer { (1..=1, "1 argument") } else { (2..=5, "2 to 5 arguments") };
    if !arity.contains(&args.len()) {
        return Err(format!("{} takes {wanted}, not {}; {}", name.trim(), args.len(), syntax()));
    }
    let width: u32 = number(args[0], "width")?;
    let t = FixedType {
        width,
        int_bits: if integer { width.try_into().unwrap_or(i32::MAX) } else { number(args[1], "integer bits")? },
        signed,
        quantization: args.get(2).map_or(Ok(Quantization::Trn), |a| Quantization::parse(a))?,
        overflow: args.get(3).map_or(Ok(Overflow::Wrap), |a| Overflow::parse(a))?,
        saturation_bits: args.get(4).map_or(Ok(0), |a| number(a, "saturation bits N"))?,
    };
    t.validate().map_err(|e| e.to_string())?;
    Ok(t)
}

fn number<T: FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{what} `{text}` is not a valid number"))
}

impl fmt::Display for FixedType {
    /// The canonical HLS spelling; modes and `N` only when they differ from the defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.signed { "ap_fixed" } else { "ap_ufixed" };
        write!(f, "{name}<{},{}", self.width, self.int_bits)?;
        let n = self.saturation_bits;
        let show_overflow = self.overflow != Overflow::Wrap || n != 0;
        if show_overflow || self.quantization != Quantization::Trn {
            write!(f, ",{}", self.quantization)?;
        }
        if show_overflow {
            write!(f, ",{}", self.overflow)?;
        }
        if n != 0 {
            write!(f, ",{n}")?;
        }
        f.write_str(">")
    }
}

impl From<FixedType> for String {
    fn from(t: FixedType) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for FixedType {
    type Error = FixedTypeError;
    fn try_from(s: String) -> Result<Self, FixedTypeError> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::{value::Error as DeError, Deserialize, IntoDeserializer};

    fn show(s: &str) -> String {
        s.parse::<FixedType>().unwrap().to_string()
    }

    fn error(s: &str) -> String {
        s.parse::<FixedType>().unwrap_err().to_string()
    }

    #[test]
    fn parses_the_usual_spellings() {
        assert_eq!(show("ap_fixed<16,6>"), "ap_fixed<16,6>");
        assert_eq!(show("ap_ufixed<8,0>"), "ap_ufixed<8,0>");
        assert_eq!(show("ap_fixed<18,8,AP_RND_CONV,AP_SAT>"), "ap_fixed<18,8,AP_RND_CONV,AP_SAT>");
        assert_eq!(show("ap_fixed<18,8,AP_RND,AP_WRAP,2>"), "ap_fixed<18,8,AP_RND,AP_WRAP,2>");
        assert_eq!(show("ap_fixed<18,8,AP_TRN,AP_WRAP,0>"), "ap_fixed<18,8>");
        assert_eq!(show("ap_fixed<18,8,AP_TRN,AP_SAT>"), "ap_fixed<18,8,AP_TRN,AP_SAT>");
        assert_eq!(show("ap_int<8>"), "ap_fixed<8,8>");
        assert_eq!(show("ap_uint<8>"), "ap_ufixed<8,8>");
        assert_eq!(show("fixed<16,6>"), "ap_fixed<16,6>");
        assert_eq!(show("ufixed<16,6,RND,SAT>"), "ap_ufixed<16,6,AP_RND,AP_SAT>");
        assert_eq!(
            show(" ap_fixed < 16 , -6 , AP_RND_ZERO ,SAT_SYM, 3 > "),
            "ap_fixed<16,-6,AP_RND_ZERO,AP_SAT_SYM,3>"
        );
        assert_eq!(show("ap_fixed<1,12>"), "ap_fixed<1,12>");
        assert_eq!(show("ap_ufixed<63,63>"), "ap_ufixed<63,63>");
    }

    #[test]
    fn errors_name_the_text_and_what_is_allowed() {
        assert_eq!(
            error("ap_fixed<0,0>"),
            "invalid fixed-point type `ap_fixed<0,0>`: width 0 is out of range: ap_fixed widths are 1 to 64, ap_ufixed widths 1 to 63"
        );
        assert!(error("ap_fixed<65,1>").contains("width 65 is out of range"));
        assert!(error("ap_ufixed<64,1>").contains("ap_ufixed widths 1 to 63"));
        let e = error("ap_fixed<16,6,AP_FOO>");
        assert!(e.contains("unknown quantization mode `AP_FOO`") && e.contains("AP_RND_CONV"), "{e}");
        let e = error("ap_fixed<16,6,RND,SATURATE>");
        assert!(e.contains("unknown overflow mode `SATURATE`") && e.contains("AP_WRAP_SM"), "{e}");
        assert!(error("ap_fixed<8,4,AP_RND,AP_WRAP,9>").contains("9 saturation bits exceed the width 8"));
        assert!(error("ap_ufixed<8,4,AP_RND,AP_WRAP_SM>").contains("AP_WRAP_SM needs a signed type"));
        assert!(error("ap_fixed<8,-130>").contains("leave 138 fractional bits"));
        assert!(error("ap_fixed<16>").contains("ap_fixed takes 2 to 5 arguments, not 1"));
        assert!(error("ap_fixd<16,6>").contains("unknown type name `ap_fixd`; expected ap_fixed<W,I"));
        assert!(error("ap_fixed<16,6").contains("`ap_fixed<16,6`: expected ap_fixed<W,I"));
        assert!(error("ap_fixed<16,six>").contains("integer bits `six` is not a valid number"));
        assert!(error("float").contains("expected"));
    }

    #[test]
    fn serde_uses_the_spelling() {
        let t: FixedType = "ufixed<16,6,RND,SAT>".parse().unwrap();
        assert_eq!(String::from(t), "ap_ufixed<16,6,AP_RND,AP_SAT>");
        let back = FixedType::deserialize(String::from(t).into_deserializer());
        assert_eq!(back, Ok::<_, DeError>(t));
        let bad = FixedType::deserialize("ap_fixed<0,0>".into_deserializer()) as Result<_, DeError>;
        assert!(bad.unwrap_err().to_string().contains("width 0"));
        let q = Quantization::deserialize("RND_CONV".into_deserializer()) as Result<_, DeError>;
        assert_eq!(q, Ok(Quantization::RndConv));
    }

    proptest! {
        #[test]
        fn display_parses_back(w in 1u32..=64, i in -60i32..=120, s: bool, q in 0..7usize, o in 0..5usize, n in 0u32..=64) {
            let t = FixedType::new(w, i, s).and_then(|t| t.with_modes(Quantization::ALL[q], Overflow::ALL[o], n));
            if let Ok(t) = t {
                prop_assert_eq!(t.to_string().parse::<FixedType>(), Ok(t));
            }
        }
    }
}
