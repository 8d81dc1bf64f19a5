//! The neighbourhoods a field value is predicted from in the error-bounded mode (their taps
//! are in [`super::taps`]): values decoded before it and the decoder's outputs around it, each
//! weighted by a fitted weight. In its own frame (SZ3's Lorenzo predictor with fitted weights
//! and the autoencoder beside it) and with the frame before, 0 stands for a neighbour beyond the
//! frame's edge. In the wide neighbourhood a place beyond the edge of an earlier frame takes the
//! nearest place inside it, and a neighbour not decoded yet, or in a frame before the chunk's
//! first, stands in as the decoder's output for the value itself.

pub use super::taps::Place;
use super::taps::{read_taps, Reach, Tap, IN_FRAME, LORENZO, WIDE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Neighbourhood {
    InFrame,
    WithPrevious,
    Wide,
}

impl Neighbourhood {
    /// What each weight multiplies.
    pub fn taps(self) -> &'static [Tap] {
        match self {
            Neighbourhood::InFrame => &LORENZO[..IN_FRAME],
            Neighbourhood::WithPrevious => &LORENZO,
            Neighbourhood::Wide => &WIDE,
        }
    }

    pub fn weights(self) -> usize {
        self.taps().len()
    }

    /// The regressors that are decoded values, seen through the quantization noise.
    pub fn decoded_regressors(self) -> Vec<usize> {
        self.taps().iter().enumerate().filter(|(_, tap)| tap.is_decoded()).map(|(k, _)| k).collect()
    }

    /// The weighted sum of value `i`'s regressors.
    pub fn weighted_sum(self, at: &Place, decoded: &[f64], predicted: &[f64], weights: &[f32]) -> f64 {
        self.with_regressors(at, decoded, predicted, |regressors| {
            regressors.iter().zip(weights).fold(0.0, |sum, (r, &w)| sum + f64::from(w) * r)
        })
    }

    /// Calls `with` on value `i`'s regressors, as many as the neighbourhood has weights.
    pub fn with_regressors<T>(
        self,
        at: &Place,
        decoded: &[f64],
        predicted: &[f64],
        with: impl FnOnce(&[f64]) -> T,
    ) -> T {
        match self {
            Neighbourhood::Wide => with(&wide(at, decoded, predicted)),
            narrow => with(&lorenzo(at, decoded, predicted)[..narrow.weights()]),
        }
    }
}

/// A fitted prediction from a neighbourhood: one weight per tap, as many as it has taps.
#[derive(Debug, Clone, PartialEq)]
pub enum NeighbourWeights {
    InFrame([f32; IN_FRAME]),
    WithPrevious([f32; LORENZO.len()]),
    Wide([f32; WIDE.len()]),
}

impl NeighbourWeights {
    /// None when `weights` are not one per tap of `neighbourhood`.
    pub fn new(neighbourhood: Neighbourhood, weights: &[f32]) -> Option<NeighbourWeights> {
        Some(match neighbourhood {
            Neighbourhood::InFrame => NeighbourWeights::InFrame(weights.try_into().ok()?),
            Neighbourhood::WithPrevious => NeighbourWeights::WithPrevious(weights.try_into().ok()?),
            Neighbourhood::Wide => NeighbourWeights::Wide(weights.try_into().ok()?),
        })
    }

    pub fn neighbourhood(&self) -> Neighbourhood {
        match self {
            NeighbourWeights::InFrame(_) => Neighbourhood::InFrame,
            NeighbourWeights::WithPrevious(_) => Neighbourhood::WithPrevious,
            NeighbourWeights::Wide(_) => Neighbourhood::Wide,
        }
    }

    pub fn weights(&self) -> &[f32] {
        match self {
            NeighbourWeights::InFrame(w) => w,
            NeighbourWeights::WithPrevious(w) => w,
            NeighbourWeights::Wide(w) => w,
        }
    }

    /// The weighted sum of the regressors of the value at `at`.
    #[inline]
    pub fn weighted_sum(&self, at: &Place, decoded: &[f64], predicted: &[f64]) -> f64 {
        self.neighbourhood().weighted_sum(at, decoded, predicted, self.weights())
    }
}

const LORENZO_REACH: Reach = Reach::of(&LORENZO);
const WIDE_REACH: Reach = Reach::of(&WIDE);

/// Regressors of the in-frame and frame-before neighbourhoods, 0 beyond the edges.
#[inline(always)]
fn lorenzo(at: &Place, decoded: &[f64], predicted: &[f64]) -> [f64; LORENZO.len()] {
    match at.is_within(LORENZO_REACH) {
        true => read_taps!(LORENZO, |tap| tap_inside(at, decoded, predicted, tap)),
        false => read_taps!(LORENZO, |tap| tap_or_zero(at, decoded, predicted, tap)),
    }
}

/// A tap's value, 0 where it lies beyond the chunk or its frame.
#[inline(always)]
fn tap_or_zero(at: &Place, decoded: &[f64], predicted: &[f64], tap: Tap) -> f64 {
    match tap {
        Tap::Decoded(offset) => at.exactly(offset).map_or(0.0, |j| decoded[j]),
        Tap::Output(offset) => at.exactly(offset).map_or(0.0, |j| predicted[j]),
        Tap::Constant => 1.0,
    }
}

/// A tap's value where it lies inside the chunk.
#[inline(always)]
fn tap_inside(at: &Place, decoded: &[f64], predicted: &[f64], tap: Tap) -> f64 {
    match tap {
        Tap::Decoded(offset) => decoded[at.inside(offset)],
        Tap::Output(offset) => predicted[at.inside(offset)],
        Tap::Constant => 1.0,
    }
}

/// Regressors of the wide neighbourhood.
fn wide(at: &Place, decoded: &[f64], predicted: &[f64]) -> [f64; WIDE.len()] {
    match is_inside(at) {
        true => wide_inside(at, decoded, predicted),
        false => wide_near_edges(at, decoded, predicted),
    }
}

/// Every place of the wide neighbourhood lies inside its frame, and two frames come before:
/// no place moves, none stands in.
fn is_inside(at: &Place) -> bool {
    at.is_within(WIDE_REACH)
}

/// The wide regressors of a place inside, read at fixed distances (the values
/// [`wide_near_edges`] reads there).
#[inline(always)]
fn wide_inside(at: &Place, decoded: &[f64], predicted: &[f64]) -> [f64; WIDE.len()] {
    read_taps!(WIDE, |tap| tap_inside(at, decoded, predicted, tap))
}

/// Near the edges a place beyond an earlier frame's edge takes the nearest place inside it; a
/// neighbour not decoded yet, or in a frame before the chunk's first, stands in as the
/// decoder's output for the value itself.
fn wide_near_edges(at: &Place, decoded: &[f64], predicted: &[f64]) -> [f64; WIDE.len()] {
    read_taps!(WIDE, |tap| tap_near_edges(at, decoded, predicted, tap))
}

#[inline(always)]
fn tap_near_edges(at: &Place, decoded: &[f64], predicted: &[f64], tap: Tap) -> f64 {
    let stand_in = predicted[at.i];
    match tap {
        // Decoded values of this frame: only places before this one, inside the frame.
        Tap::Decoded(offset) if offset.frames == 0 => {
            at.exactly(offset).filter(|&j| j < at.i).map_or(stand_in, |j| decoded[j])
        }
        Tap::Decoded(offset) => at.nearest(offset).map_or(stand_in, |j| decoded[j]),
        Tap::Output(offset) => at.nearest(offset).map_or(stand_in, |j| predicted[j]),
        Tap::Constant => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 3 x 4 frames whose values are their indices, decoder outputs their negatives.
    fn frames() -> (Vec<f64>, Vec<f64>) {
        let decoded: Vec<f64> = (0..24).map(f64::from).collect();
        (decoded.clone(), decoded.iter().map(|v| -v).collect())
    }

    #[test]
    fn lorenzo_neighbours_are_zero_beyond_the_edges() {
        let (decoded, predicted) = frames();
        let corner = lorenzo(&Place::of(12, (3, 4)), &decoded, &predicted);
        assert_eq!(corner, [-12.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -0.0]);
        let inside = lorenzo(&Place::of(17, (3, 4)), &decoded, &predicted);
        assert_eq!(inside, [-17.0, 16.0, 13.0, 12.0, -16.0, -13.0, -12.0, 1.0, 5.0, 4.0, 1.0, 0.0, -5.0]);
    }

    #[test]
    fn wide_neighbours_never_look_ahead_in_their_frame() {
        let (decoded, predicted) = frames();
        // Row 1, column 1 of the second frame.
        let r = wide(&Place::of(17, (3, 4)), &decoded, &predicted);
        assert_eq!(&r[..7], &[-17.0, 16.0, 13.0, 12.0, 14.0, -17.0, -17.0], "left, up, up-left, up-right, beyond");
        assert_eq!(&r[7..14], &[-16.0, -13.0, -12.0, -14.0, -18.0, -21.0, -22.0], "outputs on all sides");
        assert_eq!(&r[15..24], &[0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0], "the frame before, 3 x 3");
        assert_eq!(&r[24..28], &[4.0, 7.0, 1.0, 9.0], "two steps away, kept inside the frame");
        assert_eq!((r[28], r[29]), (-5.0, -17.0), "the output before, two frames back stands in");
    }

    #[test]
    fn places_inside_read_what_places_near_the_edges_would() {
        let (height, width) = (7, 8);
        let decoded: Vec<f64> = (0..4 * height * width).map(|i| f64::from(i as u32 * 7 % 31)).collect();
        let predicted: Vec<f64> = decoded.iter().map(|v| v * 0.5 - 3.0).collect();
        let mut inside = 0;
        for i in 0..decoded.len() {
            let place = Place::of(i, (height, width));
            if is_inside(&place) {
                inside += 1;
                assert_eq!(
                    wide_inside(&place, &decoded, &predicted),
                    wide_near_edges(&place, &decoded, &predicted),
                    "{i}"
                );
            }
        }
        assert_eq!(inside, 2 * 3 * 4);
    }

    #[test]
    fn the_first_frame_stands_in_its_own_outputs() {
        let (decoded, predicted) = frames();
        let r = wide(&Place::of(0, (3, 4)), &decoded, &predicted);
        let not_there = [1, 2, 3, 4, 5, 6, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29];
        assert!(not_there.iter().all(|&k| r[k] == -0.0), "{r:?}");
        assert_eq!((r[11], r[12], r[13]), (-1.0, -4.0, -5.0));
    }

    #[test]
    fn the_decoded_regressors_are_those_files_were_fitted_with() {
        // The order of the taps is the order of the weights in files: it cannot change.
        assert_eq!(Neighbourhood::InFrame.decoded_regressors(), [1, 2, 3]);
        assert_eq!(Neighbourhood::WithPrevious.decoded_regressors(), [1, 2, 3, 8, 9, 10, 11]);
        let wide: Vec<usize> = (1..=6).chain(15..=27).chain([29]).collect();
        assert_eq!(Neighbourhood::Wide.decoded_regressors(), wide);
        assert_eq!(
            [8, 13, 30],
            [Neighbourhood::InFrame, Neighbourhood::WithPrevious, Neighbourhood::Wide].map(Neighbourhood::weights)
        );
    }
}
