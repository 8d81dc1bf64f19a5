//! The look every figure shares: panel size, text, colours and the frame around a plot.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::FAMILY;
use super::{drawing_error, PlotError};

/// One figure's size in pixels; a grid is a whole number of these.
pub(super) const PANEL_SIZE: (u32, u32) = (800, 560);

/// Space kept clear around each panel so text never touches its neighbour's.
pub(super) const MARGIN: u32 = 16;

pub(super) const LINE_WIDTH: u32 = 2;

pub(super) const AXIS_COLOUR: RGBColor = RGBColor(38, 38, 38);
pub(super) const GRID_COLOUR: RGBColor = RGBColor(222, 222, 222);
pub(super) const MINOR_GRID_COLOUR: RGBColor = RGBColor(243, 243, 243);
/// Cells of a field that hold NaN or infinity: a neutral grey that no colour-map value takes.
pub(super) const MISSING_VALUE_COLOUR: RGBColor = RGBColor(190, 190, 190);

/// matplotlib's default colour cycle ("tab10"), familiar from physicists' own plots:
/// a clear blue and orange first, then colours that stay distinct in print.
const SERIES_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(super) fn series_colour(index: usize) -> RGBColor {
    SERIES_COLOURS[index % SERIES_COLOURS.len()]
}

pub(super) fn title_text() -> TextStyle<'static> {
    text(26)
}

pub(super) fn axis_label_text() -> TextStyle<'static> {
    text(22)
}

pub(super) fn tick_label_text() -> TextStyle<'static> {
    text(18)
}

pub(super) fn legend_text() -> TextStyle<'static> {
    text(19)
}

fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size)).color(&AXIS_COLOUR)
}

/// The size in pixels `text` takes when drawn in `style`.
pub(super) fn text_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> Result<(u32, u32), PlotError> {
    area.estimate_text_size(text, style).map_err(drawing_error)
}

/// The width in pixels of the widest of `texts` drawn in `style`, 0 if there are none.
pub(super) fn widest_text<'t, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    texts: impl IntoIterator<Item = &'t str>,
    style: &TextStyle,
) -> Result<u32, PlotError> {
    let mut widest = 0;
    for text in texts {
        widest = widest.max(text_size(area, text, style)?.0);
    }
    Ok(widest)
}

/// A thin box around a plot, as physicists' plots have on all four sides.
pub(super) fn draw_frame<DB: DrawingBackend>(plot: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
    let (width, height) = plot.dim_in_pixel();
    let corners = [(0, 0), (width as i32 - 1, height as i32 - 1)];
    plot.draw(&Rectangle::new(corners, AXIS_COLOUR.stroke_width(1))).map_err(drawing_error)
}
