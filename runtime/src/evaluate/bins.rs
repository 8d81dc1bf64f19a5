//! How many bins a histogram gets.
//!
//! Counts, such as a jet's number of constituents, take whole values only. Binned like any other
//! variable, some bins hold two possible values and their neighbours one or none, and the
//! histogram shows a comb that is an artefact of binning, not of the reconstruction. So where the
//! values are whole, the bin count is chosen to give every bin the same number of possible values.

/// Bins for a continuous variable: fine enough to show a distribution's shape, coarse enough that
/// a few thousand values fill it.
pub(super) const CONTINUOUS: usize = 100;

/// Beyond this many possible values, a bin holds so many that one more or less does not show.
const MOST_WHOLE_VALUES: f64 = 10_000.0;

/// The bins for a histogram of all of `series`, whose bins span them all (as the plot's do);
/// `counted` are the values that may be counts, such as the original of a comparison.
pub(super) fn for_histogram(counted: &[f64], series: &[&[f64]]) -> usize {
    let Some((first, last)) = whole_extent(counted) else {
        return CONTINUOUS;
    };
    let (low, high) = extent(series.iter().flat_map(|values| values.iter()));
    let possible = (last - first) as usize + 1;
    let preferred = if possible <= 2 * CONTINUOUS { possible } else { CONTINUOUS };
    let unevenness = |count: usize| Bins::spanning(low, high, count).unevenness(first, last);
    (1..=2 * CONTINUOUS).min_by_key(|&count| (unevenness(count), count.abs_diff(preferred))).unwrap_or(CONTINUOUS)
}

/// The smallest and largest value, when every value is whole and there are not too many
/// possible values in between.
fn whole_extent(values: &[f64]) -> Option<(f64, f64)> {
    if !values.iter().all(|value| value.fract() == 0.0) {
        return None;
    }
    let (first, last) = extent(values.iter());
    (first <= last && last - first < MOST_WHOLE_VALUES).then_some((first, last))
}

fn extent<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &value| (low.min(value), high.max(value)))
}

/// Equal bins from the smallest value to the largest, as the plot draws them: the largest value
/// counts in the last bin.
struct Bins {
    low: f64,
    width: f64,
    count: usize,
}

impl Bins {
    fn spanning(low: f64, high: f64, count: usize) -> Bins {
        Bins { low, width: (high - low) / count as f64, count }
    }

    fn index(&self, value: f64) -> usize {
        (((value - self.low) / self.width) as usize).min(self.count - 1)
    }

    /// How many more possible values the fullest bin holds than the emptiest, among the bins
    /// from the first value's to the last's. Zero when a single value is all there is.
    fn unevenness(&self, first: f64, last: f64) -> usize {
        if self.width <= 0.0 {
            return 0;
        }
        let (first_bin, last_bin) = (self.index(first), self.index(last));
        let mut held = vec![0usize; last_bin - first_bin + 1];
        let mut value = first;
        while value <= last {
            held[self.index(value) - first_bin] += 1;
            value += 1.0;
        }
        held.iter().max().unwrap_or(&0) - held.iter().min().unwrap_or(&0)
    }
}
