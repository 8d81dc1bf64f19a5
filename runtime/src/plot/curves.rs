//! A titled chart of labelled lines over two axes with a legend: how line charts and step
//! histograms are both drawn once their data has been turned into points.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::Axis;
use super::{drawing_error, style, PlotError};

/// Ready to draw: every point is finite and already in axis units (log10 on a log axis).
pub(super) struct Curves {
    pub(super) title: String,
    pub(super) x_label: String,
    pub(super) y_label: String,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) curves: Vec<Curve>,
}

pub(super) struct Curve {
    pub(super) label: String,
    pub(super) points: Vec<(f64, f64)>,
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Room between tick labels and the axis name beside them.
const LABEL_GAP: u32 = 10;
/// plotters keeps tick labels twice the tick length (5 px) away from the axis.
const TICK_LABEL_DISTANCE: u32 = 10;
/// A curve reduced to one point shows as a dot this wide rather than not at all.
const LONE_POINT_RADIUS: u32 = 4;
/// The legend: padding inside its box, the width of the line sample before each label,
/// and its distance from the corner of the plot.
const LEGEND_PADDING: u32 = 10;
const LEGEND_SAMPLE_WIDTH: u32 = 34;
const LEGEND_INSET: i32 = 10;
/// plotters sets legend lines 1.25 text heights apart.
const LEGEND_LINE_SPACING: f64 = 1.25;
/// Points looked at along each segment when judging where a legend would hide least.
const SAMPLES_PER_SEGMENT: usize = 8;

impl Curves {
    pub(super) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (x_label_area, y_label_area) = self.label_area_sizes(area)?;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, style::title_text())
            .margin(style::MARGIN)
            .margin_right(style::MARGIN * 2)
            .x_label_area_size(x_label_area)
            .y_label_area_size(y_label_area)
            .build_cartesian_2d(self.x.clone(), self.y.clone())
            .map_err(drawing_error)?;
        self.draw_grid_and_axes(&mut chart)?;
        for (index, curve) in self.curves.iter().enumerate() {
            draw_curve(&mut chart, curve, style::series_colour(index))?;
        }
        let plot = chart.plotting_area().strip_coord_spec();
        style::draw_frame(&plot)?;
        if self.curves.iter().any(|curve| !curve.label.is_empty()) {
            let legend = legend_size(area, &self.curves)?;
            let position = self.least_crowded_corner(legend, plot.dim_in_pixel());
            draw_legend(&mut chart, position)?;
        }
        Ok(())
    }

    /// Heights below and widths left of the plot that fit the tick labels and axis names,
    /// so that no text is clipped whatever the numbers are.
    fn label_area_sizes<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(u32, u32), PlotError> {
        let tick_text = style::tick_label_text();
        let name_height = style::text_size(area, "Ag", &style::axis_label_text())?.1;
        let tick_height = style::text_size(area, "0123456789", &tick_text)?.1;
        let widest_tick = style::widest_text(area, self.y.tick_labels(), &tick_text)?;
        let below = TICK_LABEL_DISTANCE + tick_height + LABEL_GAP + name_height;
        let left = TICK_LABEL_DISTANCE + widest_tick + LABEL_GAP + name_height;
        Ok((below, left))
    }

    fn draw_grid_and_axes<'a, DB: DrawingBackend + 'a>(&self, chart: &mut Chart<'a, DB>) -> Result<(), PlotError> {
        let x_tick_label = |position: &f64| self.x.tick_label(*position);
        let y_tick_label = |position: &f64| self.y.tick_label(*position);
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&x_tick_label)
            .y_label_formatter(&y_tick_label)
            .label_style(style::tick_label_text())
            .axis_desc_style(style::axis_label_text())
            .bold_line_style(style::GRID_COLOUR)
            .light_line_style(style::MINOR_GRID_COLOUR)
            .axis_style(style::AXIS_COLOUR)
            .draw()
            .map_err(drawing_error)
    }

    /// Where a legend of `legend` pixels hides the fewest points of the curves, trying the
    /// corners in matplotlib's order of preference, so that it never covers the data it explains.
    fn least_crowded_corner(&self, legend: (u32, u32), plot: (u32, u32)) -> SeriesLabelPosition {
        let inset = LEGEND_INSET as u32;
        let width = f64::from(legend.0 + inset) / f64::from(plot.0.max(1));
        let height = f64::from(legend.1 + inset) / f64::from(plot.1.max(1));
        let corners = [Corner::UpperRight, Corner::UpperLeft, Corner::LowerLeft, Corner::LowerRight];
        let hidden = |corner: &Corner| {
            let covers = |(x, y): (f64, f64)| corner.covers(x, y, width, height);
            self.sampled_fractions().filter(|&point| covers(point)).count()
        };
        let best = corners.into_iter().min_by_key(hidden).unwrap_or(Corner::UpperRight);
        best.position(legend, plot)
    }

    /// Points along every curve as fractions of the plot (0 at the left and the bottom).
    fn sampled_fractions(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let fraction = |value: f64, axis: &Axis| (value - axis.low()) / (axis.high() - axis.low());
        let segments = self.curves.iter().flat_map(|curve| curve.points.windows(2));
        let samples = segments.flat_map(|pair| {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            (0..=SAMPLES_PER_SEGMENT).map(move |step| {
                let t = step as f64 / SAMPLES_PER_SEGMENT as f64;
                (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
            })
        });
        let lone_points = self.curves.iter().filter(|curve| curve.points.len() == 1).map(|curve| curve.points[0]);
        samples.chain(lone_points).map(move |(x, y)| (fraction(x, &self.x), fraction(y, &self.y)))
    }
}

#[derive(Clone, Copy)]
enum Corner {
    UpperRight,
    UpperLeft,
    LowerLeft,
    LowerRight,
}

impl Corner {
    fn covers(self, x: f64, y: f64, width: f64, height: f64) -> bool {
        let right = matches!(self, Corner::UpperRight | Corner::LowerRight);
        let upper = matches!(self, Corner::UpperRight | Corner::UpperLeft);
        let inside_x = if right { x >= 1.0 - width } else { x <= width };
        let inside_y = if upper { y >= 1.0 - height } else { y <= height };
        inside_x && inside_y
    }

    /// The legend's top-left pixel inside the plot.
    fn position(self, (width, height): (u32, u32), (plot_width, plot_height): (u32, u32)) -> SeriesLabelPosition {
        let right = plot_width as i32 - width as i32 - LEGEND_INSET;
        let bottom = plot_height as i32 - height as i32 - LEGEND_INSET;
        let (x, y) = match self {
            Corner::UpperRight => (right, LEGEND_INSET),
            Corner::UpperLeft => (LEGEND_INSET, LEGEND_INSET),
            Corner::LowerLeft => (LEGEND_INSET, bottom),
            Corner::LowerRight => (right, bottom),
        };
        SeriesLabelPosition::Coordinate(x, y)
    }
}

fn draw_curve<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    curve: &Curve,
    colour: RGBColor,
) -> Result<(), PlotError> {
    let line_style = colour.stroke_width(style::LINE_WIDTH);
    let drawn = if let [lone_point] = curve.points[..] {
        chart.draw_series(std::iter::once(Circle::new(lone_point, LONE_POINT_RADIUS, colour.filled())))
    } else {
        chart.draw_series(LineSeries::new(curve.points.iter().copied(), line_style))
    };
    let drawn = drawn.map_err(drawing_error)?;
    if !curve.label.is_empty() {
        let sample_end = LEGEND_SAMPLE_WIDTH as i32 - 8;
        drawn.label(&curve.label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + sample_end, y)], line_style));
    }
    Ok(())
}

/// The legend box's size in pixels, as plotters will lay it out.
fn legend_size<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, curves: &[Curve]) -> Result<(u32, u32), PlotError> {
    let text = style::legend_text();
    let widest = style::widest_text(area, curves.iter().map(|curve| curve.label.as_str()), &text)?;
    let line_height = f64::from(style::text_size(area, "Ag", &text)?.1) * LEGEND_LINE_SPACING;
    let lines_height = (line_height * curves.len() as f64).ceil() as u32;
    Ok((widest + LEGEND_SAMPLE_WIDTH + 2 * LEGEND_PADDING, lines_height + 2 * LEGEND_PADDING))
}

fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(LEGEND_PADDING)
        .legend_area_size(LEGEND_SAMPLE_WIDTH)
        .label_font(style::legend_text())
        .background_style(WHITE.mix(0.9))
        .border_style(style::GRID_COLOUR)
        .draw()
        .map_err(drawing_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::axis::Scale;

    fn curves_through(points: Vec<(f64, f64)>) -> Curves {
        Curves {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x: Axis::new(Scale::Linear, 0.0, 1.0, 0.0),
            y: Axis::new(Scale::Linear, 0.0, 1.0, 0.0),
            curves: vec![Curve { label: "rising".into(), points }],
        }
    }

    #[test]
    fn legend_goes_where_no_curve_runs() {
        let corner = |points| curves_through(points).least_crowded_corner((200, 60), (600, 400));
        let (right, bottom) = (600 - 200 - LEGEND_INSET, 400 - 60 - LEGEND_INSET);
        let falling = vec![(0.0, 1.0), (1.0, 0.0)];
        let rising = vec![(0.0, 0.0), (1.0, 1.0)];
        let across_the_top = vec![(0.0, 0.95), (1.0, 0.95)];
        assert_eq!(corner(falling), SeriesLabelPosition::Coordinate(right, LEGEND_INSET));
        assert_eq!(corner(rising), SeriesLabelPosition::Coordinate(LEGEND_INSET, LEGEND_INSET));
        assert_eq!(corner(across_the_top), SeriesLabelPosition::Coordinate(LEGEND_INSET, bottom));
    }
}
