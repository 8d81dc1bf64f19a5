//! A line chart made ready to draw: points that cannot be drawn are dropped, and the axes are
//! fitted to the rest.

use super::axis::{Axis, Scale};
use super::curves::{Curve, Curves};
use super::{LineChart, PlotError};

/// Room above and below the lines, as a fraction of the y axis, so they never run along the frame.
const Y_PADDING: f64 = 0.05;

pub(super) fn prepare(chart: &LineChart) -> Result<Curves, PlotError> {
    if chart.series.is_empty() {
        return Err(nothing_to_draw(chart, "it has no series".into()));
    }
    let y_scale = if chart.log_y { Scale::Log10 } else { Scale::Linear };
    let mut curves = Vec::with_capacity(chart.series.len());
    for series in &chart.series {
        let points = drawable_points(&series.points, y_scale);
        if points.is_empty() {
            return Err(nothing_to_draw(chart, empty_series_reason(&series.label, y_scale)));
        }
        curves.push(Curve { label: series.label.clone(), points });
    }
    let x = fitted_axis(&curves, |&(x, _)| x, Scale::Linear, 0.0);
    let y = fitted_axis(&curves, |&(_, y)| y, y_scale, Y_PADDING);
    let curves = curves.into_iter().map(|curve| in_axis_units(curve, &y)).collect();
    Ok(Curves {
        title: chart.title.clone(),
        x_label: chart.x_label.clone(),
        y_label: chart.y_label.clone(),
        x,
        y,
        curves,
    })
}

/// The points with a finite x and a y the scale can show; the rest are skipped, not fatal,
/// since a training run may log an occasional NaN or infinite loss.
fn drawable_points(points: &[(f64, f64)], y_scale: Scale) -> Vec<(f64, f64)> {
    let y_drawable = |y: f64| y.is_finite() && (y_scale == Scale::Linear || y > 0.0);
    points.iter().copied().filter(|&(x, y)| x.is_finite() && y_drawable(y)).collect()
}

/// An axis spanning one coordinate of every point.
fn fitted_axis(curves: &[Curve], coordinate: impl Fn(&(f64, f64)) -> f64, scale: Scale, padding: f64) -> Axis {
    let values = curves.iter().flat_map(|curve| curve.points.iter().map(&coordinate));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(v), high.max(v)));
    Axis::new(scale, low, high, padding)
}

fn in_axis_units(curve: Curve, y: &Axis) -> Curve {
    let points = curve.points.into_iter().filter_map(|(x, value)| Some((x, y.position(value)?))).collect();
    Curve { points, ..curve }
}

fn empty_series_reason(label: &str, y_scale: Scale) -> String {
    let wanted = match y_scale {
        Scale::Linear => "finite point",
        Scale::Log10 => "finite point with a positive y (the y axis is logarithmic)",
    };
    format!("series \"{label}\" has no {wanted}")
}

fn nothing_to_draw(chart: &LineChart, reason: String) -> PlotError {
    PlotError::NothingToDraw { title: chart.title.clone(), reason }
}
