//! The neighbourhoods a field value is predicted from in the error-bounded mode: values decoded
//! before it and the decoder's outputs around it, each weighted by a fitted weight.
//!
//! - In its frame: its decoder output, its decoded left, upper and upper-left neighbours, the
//!   decoder's outputs there, and a constant (SZ3's Lorenzo predictor with fitted weights and
//!   the autoencoder beside it). 0 stands for a neighbour beyond the frame's edge.
//! - With the frame before: also the decoded values at the same place, to its left, above
//!   and above-left in the frame before, and the decoder's output at the same place.
//! - Wide: a flow moves between frames, so the whole 3 x 3 square around the same place in
//!   the frame before and the places two steps away from it, the same place two frames back,
//!   the decoded values two steps to the left and above and the upper-right one in its own
//!   frame, and the decoder's outputs on all sides of it (they are known everywhere before a
//!   value is decoded). A place beyond the edge of an earlier frame takes the nearest place
//!   inside it; a neighbour not decoded yet, or in a frame before the chunk's first, stands in
//!   as the decoder's output for the value itself.

/// Weights of a prediction from the neighbours in the value's own frame.
pub const IN_FRAME_WEIGHTS: usize = 8;
/// Weights of a prediction that takes the frame before too.
pub const WITH_PREVIOUS_WEIGHTS: usize = IN_FRAME_WEIGHTS + 5;
/// Weights of the wide neighbourhood.
pub const WIDE_WEIGHTS: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbourhood {
    InFrame,
    WithPrevious,
    Wide,
}

impl Neighbourhood {
    pub fn weights(self) -> usize {
        match self {
            Neighbourhood::InFrame => IN_FRAME_WEIGHTS,
            Neighbourhood::WithPrevious => WITH_PREVIOUS_WEIGHTS,
            Neighbourhood::Wide => WIDE_WEIGHTS,
        }
    }

    /// The regressors that are decoded values, seen through the quantization noise.
    pub fn decoded_regressors(self) -> &'static [usize] {
        match self {
            Neighbourhood::InFrame => &[1, 2, 3],
            Neighbourhood::WithPrevious => &[1, 2, 3, 8, 9, 10, 11],
            Neighbourhood::Wide => &[1, 2, 3, 4, 5, 6, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29],
        }
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
            Neighbourhood::Wide => with(&at.wide(decoded, predicted)),
            narrow => with(&at.lorenzo(decoded, predicted)[..narrow.weights()]),
        }
    }
}

/// Where value `i` of a chunk of frames sits: its frame, row and column.
pub struct Place {
    i: usize,
    frame: usize,
    row: usize,
    column: usize,
    height: usize,
    width: usize,
}

impl Place {
    pub fn of(i: usize, (height, width): (usize, usize)) -> Place {
        let at = i % (height * width);
        Place { i, frame: i / (height * width), row: at / width, column: at % width, height, width }
    }

    fn frame_size(&self) -> usize {
        self.height * self.width
    }

    /// Regressors of the in-frame and frame-before neighbourhoods, 0 beyond the edges.
    fn lorenzo(&self, decoded: &[f64], predicted: &[f64]) -> [f64; WITH_PREVIOUS_WEIGHTS] {
        let (i, width, frame_size) = (self.i, self.width, self.frame_size());
        let (left, up, before) = (self.column > 0, self.row > 0, self.frame > 0);
        let neighbour = |values: &[f64], there: bool, back: usize| if there { values[i - back] } else { 0.0 };
        [
            predicted[i],
            neighbour(decoded, left, 1),
            neighbour(decoded, up, width),
            neighbour(decoded, left && up, width + 1),
            neighbour(predicted, left, 1),
            neighbour(predicted, up, width),
            neighbour(predicted, left && up, width + 1),
            1.0,
            neighbour(decoded, before, frame_size),
            neighbour(decoded, before && left, frame_size + 1),
            neighbour(decoded, before && up, frame_size + width),
            neighbour(decoded, before && left && up, frame_size + width + 1),
            neighbour(predicted, before, frame_size),
        ]
    }

    /// The index of the place `rows` down and `columns` right of this one, `frames_back`
    /// frames before, moved to the nearest place inside the frame; None before the chunk.
    fn nearest(&self, frames_back: usize, rows: isize, columns: isize) -> Option<usize> {
        let frame = self.frame.checked_sub(frames_back)?;
        let row = self.row.saturating_add_signed(rows).min(self.height - 1);
        let column = self.column.saturating_add_signed(columns).min(self.width - 1);
        Some(frame * self.frame_size() + row * self.width + column)
    }

    /// Regressors of the wide neighbourhood.
    fn wide(&self, decoded: &[f64], predicted: &[f64]) -> [f64; WIDE_WEIGHTS] {
        match self.is_inside() {
            true => self.wide_inside(decoded, predicted),
            false => self.wide_near_edges(decoded, predicted),
        }
    }

    /// Every place of the wide neighbourhood lies inside its frame, and two frames come before:
    /// no place moves, none stands in.
    fn is_inside(&self) -> bool {
        self.frame >= 2
            && (2..self.height.saturating_sub(2)).contains(&self.row)
            && (2..self.width.saturating_sub(2)).contains(&self.column)
    }

    /// The wide regressors of a place inside, read at fixed distances (the values
    /// [`Place::wide_near_edges`] reads there).
    fn wide_inside(&self, decoded: &[f64], predicted: &[f64]) -> [f64; WIDE_WEIGHTS] {
        let (i, width, frame_size) = (self.i as isize, self.width as isize, self.frame_size() as isize);
        let at = move |frames: usize, rows: isize, columns: isize| {
            (i - frames as isize * frame_size + rows * width + columns) as usize
        };
        wide_regressors(|f, r, c| decoded[at(f, r, c)], |f, r, c| predicted[at(f, r, c)])
    }

    fn wide_near_edges(&self, decoded: &[f64], predicted: &[f64]) -> [f64; WIDE_WEIGHTS] {
        let stand_in = predicted[self.i];
        // Decoded values of this frame: only places before this one, inside the frame.
        let here = |rows: isize, columns: isize| {
            let row = self.row.checked_add_signed(rows).filter(|&r| r < self.height);
            let column = self.column.checked_add_signed(columns).filter(|&c| c < self.width);
            match (row, column) {
                (Some(r), Some(c)) if (r, c) < (self.row, self.column) => {
                    decoded[self.frame_start() + r * self.width + c]
                }
                _ => stand_in,
            }
        };
        let in_frames = |values: &[f64], frames: usize, rows: isize, columns: isize| {
            self.nearest(frames, rows, columns).map_or(stand_in, |j| values[j])
        };
        wide_regressors(
            |frames, rows, columns| match frames {
                0 => here(rows, columns),
                _ => in_frames(decoded, frames, rows, columns),
            },
            |frames, rows, columns| in_frames(predicted, frames, rows, columns),
        )
    }

    fn frame_start(&self) -> usize {
        self.frame * self.frame_size()
    }
}

/// The wide neighbourhood's regressors in the order of its weights, from the decoded values
/// and the decoder's outputs `frames` back, `rows` down and `columns` right of a value.
fn wide_regressors(
    decoded: impl Fn(usize, isize, isize) -> f64,
    predicted: impl Fn(usize, isize, isize) -> f64,
) -> [f64; WIDE_WEIGHTS] {
    let (d, p) = (decoded, predicted);
    [
        p(0, 0, 0),
        d(0, 0, -1),
        d(0, -1, 0),
        d(0, -1, -1),
        d(0, -1, 1),
        d(0, 0, -2),
        d(0, -2, 0),
        p(0, 0, -1),
        p(0, -1, 0),
        p(0, -1, -1),
        p(0, -1, 1),
        p(0, 0, 1),
        p(0, 1, 0),
        p(0, 1, 1),
        1.0,
        d(1, -1, -1),
        d(1, -1, 0),
        d(1, -1, 1),
        d(1, 0, -1),
        d(1, 0, 0),
        d(1, 0, 1),
        d(1, 1, -1),
        d(1, 1, 0),
        d(1, 1, 1),
        d(1, 0, -2),
        d(1, 0, 2),
        d(1, -2, 0),
        d(1, 2, 0),
        p(1, 0, 0),
        d(2, 0, 0),
    ]
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
        let corner = Place::of(12, (3, 4)).lorenzo(&decoded, &predicted);
        assert_eq!(corner, [-12.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -0.0]);
        let inside = Place::of(17, (3, 4)).lorenzo(&decoded, &predicted);
        assert_eq!(inside, [-17.0, 16.0, 13.0, 12.0, -16.0, -13.0, -12.0, 1.0, 5.0, 4.0, 1.0, 0.0, -5.0]);
    }

    #[test]
    fn wide_neighbours_never_look_ahead_in_their_frame() {
        let (decoded, predicted) = frames();
        // Row 1, column 1 of the second frame.
        let r = Place::of(17, (3, 4)).wide(&decoded, &predicted);
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
            if place.is_inside() {
                inside += 1;
                assert_eq!(place.wide_inside(&decoded, &predicted), place.wide_near_edges(&decoded, &predicted), "{i}");
            }
        }
        assert_eq!(inside, 2 * 3 * 4);
    }

    #[test]
    fn the_first_frame_stands_in_its_own_outputs() {
        let (decoded, predicted) = frames();
        let r = Place::of(0, (3, 4)).wide(&decoded, &predicted);
        let not_there = [1, 2, 3, 4, 5, 6, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29];
        assert!(not_there.iter().all(|&k| r[k] == -0.0), "{r:?}");
        assert_eq!((r[11], r[12], r[13]), (-1.0, -4.0, -5.0));
    }

    #[test]
    fn every_neighbourhood_names_its_decoded_regressors() {
        for n in [Neighbourhood::InFrame, Neighbourhood::WithPrevious, Neighbourhood::Wide] {
            assert!(n.decoded_regressors().iter().all(|&k| k < n.weights()));
        }
    }
}
