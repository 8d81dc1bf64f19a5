//! A field's residual codes, entropy coded in contexts of their neighbours. Residuals are
//! larger where the ones to their left, above and in the frame before are large (an edge the
//! prediction missed, a burst of motion) and nearly always zero in calm regions; a model per
//! neighbourhood codes each kind near its own entropy, where one model for all mixes them.

use super::entropy;

/// The section holding residual codes coded this way.
pub const SECTION: &str = "residual_ctx";

/// Neighbourhoods by the sum of the neighbours' codes (zigzag): 0, 1, 2, 3, 4, 5 or more.
const CONTEXTS: usize = 6;

/// Value `i`'s neighbourhood from the codes before it, in frames of (height, width): its left,
/// upper-left, upper and upper-right neighbours, and the same place, its left and upper
/// neighbours in the frame before.
fn context(i: usize, (height, width): (usize, usize), before: &[u64]) -> usize {
    let frame_size = height * width;
    let at = i % frame_size;
    let (left, up, right, back) =
        (!at.is_multiple_of(width), at >= width, !(at + 1).is_multiple_of(width), i >= frame_size);
    let neighbours = [
        (left, 1),
        (left && up, width + 1),
        (up, width),
        (up && right, width - 1),
        (back, frame_size),
        (back && left, frame_size + 1),
        (back && up, frame_size + width),
    ];
    let sum = neighbours
        .iter()
        .filter(|(there, _)| *there)
        .fold(0u64, |sum, &(_, distance)| sum.saturating_add(before[i - distance]));
    sum.min(CONTEXTS as u64 - 1) as usize
}

/// Codes one feature's codes of a field, value after value in frame order.
pub fn encode(symbols: &[u64], frame: (usize, usize)) -> Vec<u8> {
    entropy::encode_streams(symbols, CONTEXTS, |i, before| context(i, frame, before))
}

pub fn decode(stored: &[u8], count: usize, frame: (usize, usize)) -> Result<Vec<u64>, String> {
    if frame.0 == 0 || frame.1 == 0 {
        return Err("residuals in contexts need frames of at least one value".into());
    }
    entropy::decode_streams(stored, count, CONTEXTS, |i, before| context(i, frame, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calm_and_busy_regions_cost_less_apart_than_mixed() {
        // Frames of 20 x 20 whose right half has residuals of -3..3 and left half zeros.
        let frame = (20, 20);
        let symbols: Vec<u64> =
            (0..10 * 400u64).map(|i| if i % 20 < 10 { 0 } else { (i * 2_654_435_761) % 7 }).collect();
        let apart = encode(&symbols, frame);
        let mixed = entropy::encode(&symbols, 1);
        assert!((apart.len() as f64) < 0.8 * mixed.len() as f64, "{} bytes against {}", apart.len(), mixed.len());
        assert_eq!(decode(&apart, symbols.len(), frame).unwrap(), symbols);
    }

    proptest::proptest! {
        #[test]
        fn codes_round_trip_and_garbage_is_an_error_not_a_panic(
            symbols in proptest::collection::vec(proptest::prop_oneof![8 => 0u64..5, 1 => proptest::prelude::any::<u64>()], 0..300),
            height in 1usize..6,
            width in 1usize..6,
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
        ) {
            let stored = encode(&symbols, (height, width));
            proptest::prop_assert_eq!(decode(&stored, symbols.len(), (height, width)).unwrap(), symbols.clone());
            let _ = decode(&garbage, symbols.len(), (height, width));
        }
    }
}
