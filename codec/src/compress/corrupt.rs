//! What a section decoder finds wrong with a section's bytes. Each variant is one sentence
//! saying why the bytes cannot be what the writer wrote; the caller says which file and chunk.

use crate::wire::WireError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptSection {
    /// A field could not be read off the bytes at all.
    #[error(transparent)]
    Wire(#[from] WireError),

    // Plain numbers (bytes.rs).
    #[error("expected {expected} varints, found {found}")]
    VarintCount { expected: usize, found: usize },
    #[error("expected {expected} bytes of codes, found {found}")]
    PlaneBytes { expected: usize, found: usize },
    #[error("{len} bytes are not a whole number of float{bits} values")]
    PartialFloats { len: usize, bits: u32 },

    // Entropy-coded values (entropy.rs, interleaved.rs).
    #[error("{stored} values are coded where {count} belong")]
    CodedCount { stored: u64, count: usize },
    #[error("a model's window of {window} symbols is outside 1 to {max}")]
    WindowOutOfRange { window: u64, max: u64 },
    #[error("a model of {0} symbols")]
    ModelSize(u64),
    #[error("too many coded words")]
    TooManyWords,
    #[error("the coded symbols end in a zero word")]
    EndsInZeroWord,
    #[error("the coded symbols lack their final states")]
    MissingFinalStates,
    #[error("a value's stream has no model")]
    StreamWithoutModel,
    #[error("an escaped value is larger than 64 bits")]
    EscapeOverflow,
    #[error("the coded symbols are not {0} values (the data is damaged)")]
    SymbolCount(usize),
    #[error("{0} bytes are left after the coded values")]
    TrailingValues(usize),

    // Adaptively coded bits (adaptive_bits.rs, residual_context.rs, weight_codes.rs).
    #[error("{0} bytes of adaptively coded bits are not whole 32-bit words")]
    PartialWords(usize),
    #[error("the coded bits do not start a range coder")]
    NoRangeCoderStart,
    /// The range coder's own account of the damage.
    #[error("the coded bits are damaged: {0}")]
    DamagedBits(String),
    #[error("residuals in contexts need frames of at least one value")]
    EmptyFrame,
    #[error("a residual code is too large")]
    ResidualTooLarge,
    #[error("a weight code of magnitude {0}")]
    WeightCodeTooLarge(u32),

    // Latent codes (latent.rs).
    #[error("the latent ranges hold {found} values, expected {expected}")]
    LatentRanges { found: usize, expected: usize },
    #[error("too many latent codes")]
    TooManyLatentCodes,
    #[error("{raw} raw bits of {bits}-bit latent codes")]
    RawBits { raw: u32, bits: u32 },
    #[error("a latent code is wider than {0} bits")]
    LatentCodeTooWide(u32),

    // Residual plans (residual_plan.rs).
    #[error("feature {feature}'s residual plan has unknown flags {flags:#x}")]
    UnknownPlanFlags { feature: usize, flags: u8 },
    #[error("feature {0}'s prediction weights are not finite")]
    PlanWeightsNotFinite(usize),
    #[error("feature {0}'s residual plan predicts a table's column from a field's neighbours")]
    NeighboursInATable(usize),
    #[error("{0} bytes are left after the residual plan")]
    TrailingPlan(usize),
}

#[cfg(test)]
mod tests {
    use super::super::{bytes, entropy, interleaved, latent, residual_context, residual_plan};
    use super::*;

    /// Each decoder's error, and the sentence a user reads.
    fn says(error: CorruptSection, expected: CorruptSection, text: &str) {
        assert_eq!(error, expected);
        assert_eq!(error.to_string(), text);
    }

    #[test]
    fn a_cut_section_ends_early() {
        says(
            bytes::decode_f64s(&[0; 12]).unwrap_err(),
            CorruptSection::PartialFloats { len: 12, bits: 64 },
            "12 bytes are not a whole number of float64 values",
        );
        says(
            latent::decode_entropy(&[], 2, 3, 8).unwrap_err(),
            CorruptSection::Wire(WireError::EndsEarly { wanted: 1, left: 0 }),
            "1 bytes expected, 0 left",
        );
        let coded = interleaved::encode(&[1, 2, 3, 4, 5, 6], 2);
        assert!(matches!(interleaved::decode(&coded[..coded.len() - 1], 6, 2), Err(CorruptSection::Wire(_))));
        says(
            residual_context::decode_adaptive(&[0; 3], 4, (2, 2)).unwrap_err(),
            CorruptSection::PartialWords(3),
            "3 bytes of adaptively coded bits are not whole 32-bit words",
        );
    }

    #[test]
    fn a_section_of_another_size_or_with_bytes_left_over_is_refused() {
        says(
            bytes::decode_varints(&bytes::encode_varints([1, -2, 3]), 4).unwrap_err(),
            CorruptSection::VarintCount { expected: 4, found: 3 },
            "expected 4 varints, found 3",
        );
        says(
            entropy::decode(&entropy::encode(&[1, 2, 3, 4, 5], 1), 4, 1).unwrap_err(),
            CorruptSection::CodedCount { stored: 5, count: 4 },
            "5 values are coded where 4 belong",
        );
        let mut coded = interleaved::encode(&[1, 2, 3, 4, 5, 6], 2);
        coded.push(0);
        says(
            interleaved::decode(&coded, 6, 2).unwrap_err(),
            CorruptSection::TrailingValues(1),
            "1 bytes are left after the coded values",
        );
    }

    #[test]
    fn unknown_plan_flags_name_the_feature() {
        says(
            residual_plan::ResidualPlan::from_bytes(
                &[0, 0xff],
                &residual_plan::PlanLayout::Table { weights: vec![0, 0] },
            )
            .err()
            .unwrap(),
            CorruptSection::UnknownPlanFlags { feature: 1, flags: 0xff },
            "feature 1's residual plan has unknown flags 0xff",
        );
    }
}
