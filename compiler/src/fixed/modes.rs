use serde::{Deserialize, Serialize};
use std::fmt;

/// How bits dropped below the target's LSB are rounded (`ap_q_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Quantization {
    /// `AP_TRN`: floor, toward -inf (the default).
    #[default]
    #[serde(rename = "AP_TRN", alias = "TRN")]
    Trn,
    /// `AP_TRN_ZERO`: truncate toward zero.
    #[serde(rename = "AP_TRN_ZERO", alias = "TRN_ZERO")]
    TrnZero,
    /// `AP_RND`: nearest, ties toward +inf.
    #[serde(rename = "AP_RND", alias = "RND")]
    Rnd,
    /// `AP_RND_ZERO`: nearest, ties toward zero.
    #[serde(rename = "AP_RND_ZERO", alias = "RND_ZERO")]
    RndZero,
    /// `AP_RND_MIN_INF`: nearest, ties toward -inf.
    #[serde(rename = "AP_RND_MIN_INF", alias = "RND_MIN_INF")]
    RndMinInf,
    /// `AP_RND_INF`: nearest, ties away from zero.
    #[serde(rename = "AP_RND_INF", alias = "RND_INF")]
    RndInf,
    /// `AP_RND_CONV`: nearest, ties to even.
    #[serde(rename = "AP_RND_CONV", alias = "RND_CONV")]
    RndConv,
}

/// What happens to values outside the target's range (`ap_o_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Overflow {
    /// `AP_WRAP`: keep the low bits (the default); with `N > 0` the top `N` bits saturate.
    #[default]
    #[serde(rename = "AP_WRAP", alias = "WRAP")]
    Wrap,
    /// `AP_SAT`: clamp to the nearest of min and max.
    #[serde(rename = "AP_SAT", alias = "SAT")]
    Sat,
    /// `AP_SAT_ZERO`: any overflow gives zero.
    #[serde(rename = "AP_SAT_ZERO", alias = "SAT_ZERO")]
    SatZero,
    /// `AP_SAT_SYM`: clamp to a symmetric range, `-max..=max` for signed types.
    #[serde(rename = "AP_SAT_SYM", alias = "SAT_SYM")]
    SatSym,
    /// `AP_WRAP_SM`: sign-magnitude wrap (signed types only).
    #[serde(rename = "AP_WRAP_SM", alias = "WRAP_SM")]
    WrapSm,
}

impl Quantization {
    /// All modes, in `ap_q_mode` order.
    pub const ALL: [Quantization; 7] =
        [Self::Rnd, Self::RndZero, Self::RndMinInf, Self::RndInf, Self::RndConv, Self::Trn, Self::TrnZero];

    /// Reads `AP_RND_CONV` or hls4ml's `RND_CONV`; the error says what is allowed.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        by_name(text, &Self::ALL, Self::hls_name, "quantization")
    }

    /// The C++ enumerator, e.g. `"AP_RND_CONV"`.
    pub fn hls_name(self) -> &'static str {
        match self {
            Self::Trn => "AP_TRN",
            Self::TrnZero => "AP_TRN_ZERO",
            Self::Rnd => "AP_RND",
            Self::RndZero => "AP_RND_ZERO",
            Self::RndMinInf => "AP_RND_MIN_INF",
            Self::RndInf => "AP_RND_INF",
            Self::RndConv => "AP_RND_CONV",
        }
    }
}

impl Overflow {
    /// All modes, in `ap_o_mode` order.
    pub const ALL: [Overflow; 5] = [Self::Sat, Self::SatZero, Self::SatSym, Self::Wrap, Self::WrapSm];

    /// Reads `AP_SAT` or hls4ml's `SAT`; the error says what is allowed.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        by_name(text, &Self::ALL, Self::hls_name, "overflow")
    }

    /// The C++ enumerator, e.g. `"AP_SAT"`.
    pub fn hls_name(self) -> &'static str {
        match self {
            Self::Wrap => "AP_WRAP",
            Self::Sat => "AP_SAT",
            Self::SatZero => "AP_SAT_ZERO",
            Self::SatSym => "AP_SAT_SYM",
            Self::WrapSm => "AP_WRAP_SM",
        }
    }
}

/// Finds the mode whose name is `text`, with or without the `AP_` prefix (hls4ml drops it).
fn by_name<T: Copy>(text: &str, all: &[T], name: fn(T) -> &'static str, kind: &str) -> Result<T, String> {
    let wanted = text.strip_prefix("AP_").unwrap_or(text);
    all.iter().copied().find(|&m| &name(m)[3..] == wanted).ok_or_else(|| {
        let names: Vec<_> = all.iter().map(|&m| name(m)).collect();
        format!("unknown {kind} mode `{text}` (allowed: {}; the AP_ prefix is optional)", names.join(", "))
    })
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hls_name())
    }
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hls_name())
    }
}
