//! Every neighbourhood of a field value, defined once: the places each prediction and the
//! residual contexts read, relative to the value, as tables. The readers decide only what a
//! place beyond an edge stands for (see `field_neighbours` and `residual_context`).

/// A place relative to a value: `frames` frames back, `rows` down and `columns` right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub frames: usize,
    pub rows: isize,
    pub columns: isize,
}

/// What one weight of a prediction multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    /// The value decoded at a place (before the value, in coding order).
    Decoded(Offset),
    /// The decoder's output at a place (known everywhere before decoding starts).
    Output(Offset),
    /// 1: the prediction's constant term.
    Constant,
}

impl Tap {
    /// Whether the tap reads a decoded value, which the quantization noise blurs.
    pub const fn is_decoded(self) -> bool {
        matches!(self, Tap::Decoded(_))
    }
}

const fn at(frames: usize, rows: isize, columns: isize) -> Offset {
    Offset { frames, rows, columns }
}

const HERE: Offset = at(0, 0, 0);
const LEFT: Offset = at(0, 0, -1);
const UP: Offset = at(0, -1, 0);
const UP_LEFT: Offset = at(0, -1, -1);
const UP_RIGHT: Offset = at(0, -1, 1);
const BACK: Offset = at(1, 0, 0);
const BACK_LEFT: Offset = at(1, 0, -1);
const BACK_UP: Offset = at(1, -1, 0);
const BACK_UP_LEFT: Offset = at(1, -1, -1);

use Tap::{Constant, Decoded, Output};

/// In its frame: the decoder's output, the decoded left, upper and upper-left neighbours, the
/// decoder's outputs there, and a constant (SZ3's Lorenzo predictor with fitted weights and
/// the autoencoder beside it). Then, with the frame before: the decoded values at the same
/// place, to its left, above and above-left there, and the decoder's output at the same place.
/// The in-frame neighbourhood is the first `IN_FRAME` taps.
pub const LORENZO: [Tap; 13] = [
    Output(HERE),
    Decoded(LEFT),
    Decoded(UP),
    Decoded(UP_LEFT),
    Output(LEFT),
    Output(UP),
    Output(UP_LEFT),
    Constant,
    Decoded(BACK),
    Decoded(BACK_LEFT),
    Decoded(BACK_UP),
    Decoded(BACK_UP_LEFT),
    Output(BACK),
];

/// Taps of the in-frame neighbourhood: the first of [`LORENZO`].
pub const IN_FRAME: usize = 8;

/// A flow moves between frames: the whole 3 x 3 square around the same place in the frame
/// before and the places two steps away from it, the same place two frames back, the decoded
/// values two steps to the left and above and the upper-right one in its own frame, and the
/// decoder's outputs on all sides of it.
pub const WIDE: [Tap; 30] = [
    Output(HERE),
    Decoded(LEFT),
    Decoded(UP),
    Decoded(UP_LEFT),
    Decoded(UP_RIGHT),
    Decoded(at(0, 0, -2)),
    Decoded(at(0, -2, 0)),
    Output(LEFT),
    Output(UP),
    Output(UP_LEFT),
    Output(UP_RIGHT),
    Output(at(0, 0, 1)),
    Output(at(0, 1, 0)),
    Output(at(0, 1, 1)),
    Constant,
    Decoded(BACK_UP_LEFT),
    Decoded(BACK_UP),
    Decoded(at(1, -1, 1)),
    Decoded(BACK_LEFT),
    Decoded(BACK),
    Decoded(at(1, 0, 1)),
    Decoded(at(1, 1, -1)),
    Decoded(at(1, 1, 0)),
    Decoded(at(1, 1, 1)),
    Decoded(at(1, 0, -2)),
    Decoded(at(1, 0, 2)),
    Decoded(at(1, -2, 0)),
    Decoded(at(1, 2, 0)),
    Output(BACK),
    Decoded(at(2, 0, 0)),
];

/// The residual codes a code's context reads: its left, upper-left, upper and upper-right
/// neighbours, and the same place, its left and upper neighbours in the frame before.
pub const CONTEXT: [Offset; 7] = [LEFT, UP_LEFT, UP, UP_RIGHT, BACK, BACK_LEFT, BACK_UP];

/// `[read(TAPS[0]), read(TAPS[1]), ...]` for [`LORENZO`] or [`WIDE`], written out so that every
/// read is of a constant tap and compiles to a fixed offset: the compiler does not unroll a loop
/// over thirty taps. The array's length is the table's, or the types do not match.
macro_rules! read_taps {
    (LORENZO, $read:expr) => {
        $crate::compress::taps::read_taps!(@ LORENZO, $read, [0 1 2 3 4 5 6 7 8 9 10 11 12])
    };
    (WIDE, $read:expr) => {
        $crate::compress::taps::read_taps!(@ WIDE, $read,
            [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29])
    };
    (@ $taps:ident, $read:expr, [$($k:literal)*]) => {{
        let read = $read;
        let regressors: [f64; $crate::compress::taps::$taps.len()] = [$(read($crate::compress::taps::$taps[$k])),*];
        regressors
    }};
}
pub(crate) use read_taps;

/// How far a neighbourhood reaches from a value: frames back, rows up and down, columns left
/// and right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    frames: usize,
    up: usize,
    down: usize,
    left: usize,
    right: usize,
}

impl Reach {
    pub const fn of(taps: &[Tap]) -> Reach {
        let mut reach = Reach { frames: 0, up: 0, down: 0, left: 0, right: 0 };
        let mut k = 0;
        while k < taps.len() {
            if let Tap::Decoded(offset) | Tap::Output(offset) = taps[k] {
                reach = reach.including(offset);
            }
            k += 1;
        }
        reach
    }

    const fn including(self, offset: Offset) -> Reach {
        const fn max(a: usize, b: usize) -> usize {
            if a > b {
                a
            } else {
                b
            }
        }
        let (rows, columns) = (offset.rows.unsigned_abs(), offset.columns.unsigned_abs());
        Reach {
            frames: max(self.frames, offset.frames),
            up: max(self.up, if offset.rows < 0 { rows } else { 0 }),
            down: max(self.down, if offset.rows > 0 { rows } else { 0 }),
            left: max(self.left, if offset.columns < 0 { columns } else { 0 }),
            right: max(self.right, if offset.columns > 0 { columns } else { 0 }),
        }
    }
}

/// Where value `i` of a chunk of frames of `(height, width)` sits.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub i: usize,
    pub frame: usize,
    pub row: usize,
    pub column: usize,
    pub height: usize,
    pub width: usize,
}

impl Place {
    #[inline]
    pub fn of(i: usize, (height, width): (usize, usize)) -> Place {
        let at = i % (height * width);
        Place { i, frame: i / (height * width), row: at / width, column: at % width, height, width }
    }

    pub fn frame_size(&self) -> usize {
        self.height * self.width
    }

    /// Whether every place within `reach` lies inside the chunk and its frame.
    #[inline(always)]
    pub fn is_within(&self, reach: Reach) -> bool {
        self.frame >= reach.frames
            && self.row >= reach.up
            && self.row + reach.down < self.height
            && self.column >= reach.left
            && self.column + reach.right < self.width
    }

    /// The index of the place at `offset`, None where it lies beyond the frame's edges or
    /// before the chunk's first frame.
    #[inline(always)]
    pub fn exactly(&self, offset: Offset) -> Option<usize> {
        // With a constant offset most of these comparisons fold away.
        let there = self.frame >= offset.frames
            && self.row.checked_add_signed(offset.rows).is_some_and(|r| r < self.height)
            && self.column.checked_add_signed(offset.columns).is_some_and(|c| c < self.width);
        there.then(|| self.inside(offset))
    }

    /// The index of the place at `offset` moved to the nearest place inside its frame; None
    /// before the chunk's first frame.
    #[inline(always)]
    pub fn nearest(&self, offset: Offset) -> Option<usize> {
        let frame = self.frame.checked_sub(offset.frames)?;
        let row = self.row.saturating_add_signed(offset.rows).min(self.height - 1);
        let column = self.column.saturating_add_signed(offset.columns).min(self.width - 1);
        Some(frame * self.frame_size() + row * self.width + column)
    }

    /// The index of the place at `offset`, with no check: for places whose every tap lies
    /// inside the chunk.
    #[inline(always)]
    pub fn inside(&self, offset: Offset) -> usize {
        let (frame_size, width) = (self.frame_size() as isize, self.width as isize);
        (self.i as isize - offset.frames as isize * frame_size + offset.rows * width + offset.columns) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_taps_of_the_value_s_own_frame_come_before_it() {
        // The coding order is frame by frame, row by row, column by column.
        for tap in LORENZO.iter().chain(&WIDE) {
            if let Decoded(offset) = tap {
                assert!(offset.frames > 0 || (offset.rows, offset.columns) < (0, 0), "{tap:?}");
            }
        }
        for offset in CONTEXT {
            assert!(offset.frames > 0 || (offset.rows, offset.columns) < (0, 0), "{offset:?}");
        }
    }

    #[test]
    fn reaches_cover_every_tap() {
        assert_eq!(Reach::of(&LORENZO), Reach { frames: 1, up: 1, down: 0, left: 1, right: 0 });
        assert_eq!(Reach::of(&WIDE), Reach { frames: 2, up: 2, down: 2, left: 2, right: 2 });
        assert_eq!(Reach::of(&[Constant]), Reach { frames: 0, up: 0, down: 0, left: 0, right: 0 });
    }

    #[test]
    fn places_are_found_exactly_near_and_inside() {
        let place = Place::of(2 * 12 + 5, (3, 4)); // frame 2, row 1, column 1
        assert_eq!((place.frame, place.row, place.column), (2, 1, 1));
        assert_eq!(place.exactly(LEFT), Some(28));
        assert_eq!(place.exactly(at(0, 0, -2)), None);
        assert_eq!(place.exactly(at(3, 0, 0)), None);
        assert_eq!(place.nearest(at(1, -2, 0)), Some(12 + 1));
        assert_eq!(place.nearest(at(1, 0, 5)), Some(12 + 4 + 3));
        assert_eq!(place.inside(BACK_UP_LEFT), 12);
    }
}
