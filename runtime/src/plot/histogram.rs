//! Step histograms made ready to draw: every series counted over the same bins, so that an
//! original and its reconstruction can be compared bin by bin, and drawn as outlines that stay
//! readable where they overlap.

use super::axis::{Axis, Scale};
use super::curves::{Curve, Curves};
use super::{Histogram, PlotError};

const Y_LABEL: &str = "count";
/// Headroom above the tallest bin, for the legend: a tenth on a linear axis, half a decade on a log one.
const LINEAR_HEADROOM: f64 = 1.1;
const LOG_HEADROOM: f64 = 3.0;
/// The bottom of a log axis: below a single count, so that a bin of one still shows as a step.
const LOG_FLOOR: f64 = 0.5;

/// Room left and right of the outermost bins, as a fraction of the axis, so their edges show.
const X_PADDING: f64 = 0.03;

pub(super) fn prepare(histogram: &Histogram) -> Result<Curves, PlotError> {
    if histogram.bins == 0 {
        return Err(PlotError::Malformed { title: histogram.title.clone(), reason: "it has zero bins".into() });
    }
    let samples = finite_samples(histogram)?;
    let bins = Bins::spanning(&samples, histogram.bins);
    let counts: Vec<Vec<u64>> = samples.iter().map(|values| bins.count(values)).collect();
    let tallest = counts.iter().flatten().copied().max().unwrap_or(1) as f64;
    let x = Axis::new(Scale::Linear, bins.low, bins.edge(bins.len), X_PADDING);
    let y = if histogram.log_y {
        Axis::new(Scale::Log10, LOG_FLOOR, tallest * LOG_HEADROOM, 0.0)
    } else {
        Axis::new(Scale::Linear, 0.0, tallest * LINEAR_HEADROOM, 0.0)
    };
    let labels = histogram.series.iter().map(|(label, _)| label.clone());
    let curves = labels.zip(&counts).map(|(label, counts)| Curve { label, points: bins.outline(counts, &y) }).collect();
    Ok(Curves {
        title: histogram.title.clone(),
        x_label: histogram.x_label.clone(),
        y_label: Y_LABEL.into(),
        x,
        y,
        curves,
    })
}

/// Each series' finite values; NaN and infinity are skipped. A series with none is an error,
/// since an empty outline would silently hide that a column was all NaN.
fn finite_samples(histogram: &Histogram) -> Result<Vec<Vec<f64>>, PlotError> {
    let nothing_to_draw = |reason: String| PlotError::NothingToDraw { title: histogram.title.clone(), reason };
    if histogram.series.is_empty() {
        return Err(nothing_to_draw("it has no series".into()));
    }
    let mut samples = Vec::with_capacity(histogram.series.len());
    for (label, values) in &histogram.series {
        let finite: Vec<f64> = values.iter().copied().filter(|value| value.is_finite()).collect();
        if finite.is_empty() {
            return Err(nothing_to_draw(format!("series \"{label}\" has no finite value")));
        }
        samples.push(finite);
    }
    Ok(samples)
}

/// Equal bins from the smallest to the largest value of all series.
struct Bins {
    low: f64,
    width: f64,
    len: usize,
}

impl Bins {
    fn spanning(samples: &[Vec<f64>], count: usize) -> Self {
        let values = samples.iter().flatten().copied();
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(v), high.max(v)));
        // A single repeated value still gets bins of some width, centred on it.
        let (low, high) = if high > low { (low, high) } else { (low - 0.5, high + 0.5) };
        Bins { low, width: (high - low) / count as f64, len: count }
    }

    fn edge(&self, index: usize) -> f64 {
        self.low + self.width * index as f64
    }

    /// How many values fall in each bin; the largest value counts in the last bin rather than
    /// falling off its right edge.
    fn count(&self, values: &[f64]) -> Vec<u64> {
        let mut counts = vec![0; self.len];
        for value in values {
            let bin = ((value - self.low) / self.width) as usize;
            counts[bin.min(self.len - 1)] += 1;
        }
        counts
    }

    /// The outline of the bars: up from the axis at the first edge, across each bin at its
    /// count, and down to the axis at the last edge. Empty bins on a log axis sit on its floor.
    fn outline(&self, counts: &[u64], y: &Axis) -> Vec<(f64, f64)> {
        let height = |count: u64| y.position(count as f64).unwrap_or(y.low());
        let mut outline = Vec::with_capacity(2 * counts.len() + 2);
        outline.push((self.edge(0), y.low()));
        for (index, &count) in counts.iter().enumerate() {
            outline.push((self.edge(index), height(count)));
            outline.push((self.edge(index + 1), height(count)));
        }
        outline.push((self.edge(counts.len()), y.low()));
        outline
    }
}
