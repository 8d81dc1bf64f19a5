//! A 2-D field as an image in the viridis colour map, with a colour bar that reads values back.
//!
//! The field is drawn as one bitmap the size of the plot, each pixel taking the colour of the
//! cell under it, rather than as a rectangle per cell: that keeps a large field fast to draw and
//! its SVG small (the bitmap is embedded as a PNG, as matplotlib does for images).

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, Scale};
use super::{drawing_error, style, Heatmap, PlotError};

/// Space between the image and its colour bar, and the bar's width.
const COLOUR_BAR_GAP: u32 = 24;
const COLOUR_BAR_WIDTH: u32 = 26;
/// The colour bar is drawn as this many bands, enough that no step shows.
const COLOUR_BAR_BANDS: usize = 256;
/// Tick marks are 5 px long, and labels twice that from the axis, as plotters draws them.
const TICK_LENGTH: i32 = 5;
const TICK_LABEL_DISTANCE: u32 = 10;
/// Room between the outermost labels and the panel's edge, and between the title and the image.
const EDGE_ROOM: u32 = 6;
const TITLE_GAP: u32 = 12;

/// A checked field and the range of values its colours span.
pub(super) struct Field<'a> {
    heatmap: &'a Heatmap,
    values: Axis,
}

pub(super) fn prepare(heatmap: &Heatmap) -> Result<Field<'_>, PlotError> {
    check_shape(heatmap)?;
    let finite = heatmap.values.iter().copied().filter(|value| value.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(v), high.max(v)));
    if low > high {
        let reason = "all of its values are NaN or infinite".into();
        return Err(PlotError::NothingToDraw { title: heatmap.title.clone(), reason });
    }
    Ok(Field { heatmap, values: Axis::new(Scale::Linear, low, high, 0.0) })
}

/// One value per cell, and at least one cell.
fn check_shape(heatmap: &Heatmap) -> Result<(), PlotError> {
    let (width, height, values) = (heatmap.width, heatmap.height, heatmap.values.len());
    let reason = match width.checked_mul(height) {
        Some(0) => format!("a {width} x {height} field has no cells"),
        Some(cells) if cells == values => return Ok(()),
        Some(cells) => format!("it has {values} values for a {width} x {height} field of {cells} cells"),
        None => format!("a {width} x {height} field is too large"),
    };
    Err(PlotError::Malformed { title: heatmap.title.clone(), reason })
}

/// Where the title, the image and its colour bar go inside a panel, all in pixels.
struct Layout {
    /// Room left of the group and right of it, so the group sits in the middle.
    side_room: u32,
    /// Room above the title and below the column labels, so the group sits in the middle.
    top_room: u32,
    bottom_room: u32,
    title_height: u32,
    row_label_width: u32,
    column_label_height: u32,
    image_width: u32,
}

impl Field<'_> {
    pub(super) fn draw<DB: DrawingBackend>(&self, panel: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let margin = style::MARGIN as i32;
        let body = panel.margin(margin, margin, margin, margin);
        let columns = Axis::cell_indices(self.heatmap.width);
        let rows = Axis::cell_indices(self.heatmap.height).reversed();
        let layout = self.layout(&body, &rows)?;
        let image_right = layout.side_room + layout.row_label_width + layout.image_width;
        let (image_side, colour_bar_side) = body.split_horizontally(image_right);
        self.draw_title(&image_side, &layout)?;
        self.draw_image(&image_side, &layout, &columns, &rows)?;
        self.draw_colour_bar(&colour_bar_side, &layout)
    }

    /// The largest image with square cells that fits beside its colour bar and under its title.
    fn layout<DB: DrawingBackend>(&self, body: &DrawingArea<DB, Shift>, rows: &Axis) -> Result<Layout, PlotError> {
        let (width, height) = body.dim_in_pixel();
        let title_height = style::text_size(body, &self.heatmap.title, &style::title_text())?.1 + TITLE_GAP;
        let row_label_width =
            TICK_LABEL_DISTANCE + style::widest_text(body, rows.tick_labels(), &style::tick_label_text())? + EDGE_ROOM;
        let column_label_height =
            TICK_LABEL_DISTANCE + style::text_size(body, "0123456789", &style::tick_label_text())?.1 + EDGE_ROOM;
        let value_label_width = TICK_LABEL_DISTANCE
            + style::widest_text(body, self.values.tick_labels(), &style::tick_label_text())?
            + EDGE_ROOM;
        let colour_bar_side = COLOUR_BAR_GAP + COLOUR_BAR_WIDTH + value_label_width;
        let room_x = width.saturating_sub(row_label_width + colour_bar_side).max(1);
        let room_y = height.saturating_sub(title_height + column_label_height).max(1);
        let (columns, rows) = (self.heatmap.width as f64, self.heatmap.height as f64);
        let cell = (f64::from(room_x) / columns).min(f64::from(room_y) / rows);
        let image_width = ((cell * columns) as u32).clamp(1, room_x);
        let image_height = ((cell * rows) as u32).clamp(1, room_y);
        let top_room = (room_y - image_height) / 2;
        Ok(Layout {
            side_room: (room_x - image_width) / 2,
            top_room,
            bottom_room: room_y - image_height - top_room,
            title_height,
            row_label_width,
            column_label_height,
            image_width,
        })
    }

    /// The title sits just above the image and is centred on it, as in a single-axes figure.
    fn draw_title<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, layout: &Layout) -> Result<(), PlotError> {
        let centre = layout.side_room + layout.row_label_width + layout.image_width / 2;
        let text = style::title_text().pos(Pos::new(HPos::Center, VPos::Top));
        let top_centre = (centre as i32, layout.top_room as i32);
        area.draw(&Text::new(self.heatmap.title.as_str(), top_centre, text)).map_err(drawing_error)
    }

    fn draw_image<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        layout: &Layout,
        columns: &Axis,
        rows: &Axis,
    ) -> Result<(), PlotError> {
        let mut chart = ChartBuilder::on(area)
            .margin_left(layout.side_room)
            .margin_top(layout.top_room + layout.title_height)
            .margin_bottom(layout.bottom_room)
            .x_label_area_size(layout.column_label_height)
            .y_label_area_size(layout.row_label_width)
            .build_cartesian_2d(columns.clone(), rows.clone())
            .map_err(drawing_error)?;
        let size = chart.plotting_area().dim_in_pixel();
        // Rows run downwards, so the low ends of both axes meet at the top-left corner.
        let top_left = (columns.low(), rows.low());
        let image = BitMapElement::with_owned_buffer(top_left, size, self.pixels(size))
            .ok_or_else(|| PlotError::Drawing("the image buffer does not match its size".into()))?;
        chart.draw_series(std::iter::once(image)).map_err(drawing_error)?;
        let column_label = |position: &f64| columns.tick_label(*position);
        let row_label = |position: &f64| rows.tick_label(*position);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&column_label)
            .y_label_formatter(&row_label)
            .label_style(style::tick_label_text())
            .axis_style(style::AXIS_COLOUR)
            .draw()
            .map_err(drawing_error)?;
        style::draw_frame(&chart.plotting_area().strip_coord_spec())
    }

    /// RGB bytes, row by row, for an image of `width` x `height` pixels: each pixel takes the
    /// colour of the cell its centre falls in.
    fn pixels(&self, (width, height): (u32, u32)) -> Vec<u8> {
        let heatmap = self.heatmap;
        let cell_of = |pixel: u32, pixels: u32, cells: usize| {
            (((f64::from(pixel) + 0.5) / f64::from(pixels) * cells as f64) as usize).min(cells - 1)
        };
        let mut bytes = Vec::with_capacity(width as usize * height as usize * 3);
        for y in 0..height {
            let row = cell_of(y, height, heatmap.height);
            for x in 0..width {
                let column = cell_of(x, width, heatmap.width);
                let RGBColor(red, green, blue) = self.colour(heatmap.values[row * heatmap.width + column]);
                bytes.extend_from_slice(&[red, green, blue]);
            }
        }
        bytes
    }

    fn colour(&self, value: f64) -> RGBColor {
        if !value.is_finite() {
            return style::MISSING_VALUE_COLOUR;
        }
        let fraction = (value - self.values.low()) / (self.values.high() - self.values.low());
        ViridisRGB::get_color(fraction.clamp(0.0, 1.0))
    }

    /// A vertical strip of the colour map, as tall as the image, with value ticks on its right.
    fn draw_colour_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        layout: &Layout,
    ) -> Result<(), PlotError> {
        let (width, _) = area.dim_in_pixel();
        let mut chart = ChartBuilder::on(area)
            .margin_left(COLOUR_BAR_GAP)
            .margin_right(width.saturating_sub(COLOUR_BAR_GAP + COLOUR_BAR_WIDTH))
            .margin_top(layout.top_room + layout.title_height)
            .margin_bottom(layout.bottom_room + layout.column_label_height)
            .build_cartesian_2d(0.0..1.0, self.values.clone())
            .map_err(drawing_error)?;
        let (low, high) = (self.values.low(), self.values.high());
        let band = (high - low) / COLOUR_BAR_BANDS as f64;
        let bands = (0..COLOUR_BAR_BANDS).map(|index| {
            let bottom = low + band * index as f64;
            Rectangle::new([(0.0, bottom), (1.0, bottom + band)], self.colour(bottom + band / 2.0).filled())
        });
        chart.draw_series(bands).map_err(drawing_error)?;
        style::draw_frame(&chart.plotting_area().strip_coord_spec())?;
        self.draw_value_ticks(area, &chart)
    }

    /// Value ticks and labels right of the colour bar. plotters' right-hand axis aligns labels
    /// of different widths unevenly, so they are drawn here: all left-aligned, each centred on its tick.
    fn draw_value_ticks<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        chart: &ChartContext<DB, Cartesian2d<RangedCoordf64, Axis>>,
    ) -> Result<(), PlotError> {
        let (origin_x, origin_y) = area.get_base_pixel();
        let text = style::tick_label_text().pos(Pos::new(HPos::Left, VPos::Center));
        for position in self.values.tick_positions() {
            let (x, y) = chart.backend_coord(&(1.0, position));
            let (x, y) = (x - origin_x, y - origin_y);
            let tick = PathElement::new(vec![(x, y), (x + TICK_LENGTH, y)], style::AXIS_COLOUR);
            area.draw(&tick).map_err(drawing_error)?;
            let label = self.values.tick_label(position);
            let label_at = (x + TICK_LABEL_DISTANCE as i32, y);
            area.draw(&Text::new(label, label_at, &text)).map_err(drawing_error)?;
        }
        Ok(())
    }
}
