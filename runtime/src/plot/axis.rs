//! Where an axis puts its ticks and what it writes under them, on a linear or a log scale.
//!
//! A log axis is drawn as a linear axis over log10 of the values, with ticks chosen here:
//! plotters' own log axis puts no tick at all on a range shorter than a decade, which is just
//! what the last epochs of a training curve span.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

/// More ticks than this crowd the labels on a panel.
const MAX_TICKS: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scale {
    Linear,
    Log10,
}

#[derive(Debug, Clone, PartialEq)]
struct Tick {
    position: f64,
    label: String,
}

/// One axis: the range it shows and its ticks, all in drawing units (log10 of the value on a
/// log axis). It is itself the coordinate plotters draws with, so plotters uses its ticks.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    scale: Scale,
    range: Range<f64>,
    ticks: Vec<Tick>,
    minor_ticks: Vec<f64>,
    reversed: bool,
}

impl Axis {
    /// An axis over the values `low..=high`, widened on each side by `padding` times its length.
    /// On a log axis both values must be positive and the padding is a fraction of the decades.
    pub(super) fn new(scale: Scale, low: f64, high: f64, padding: f64) -> Self {
        let (low, high) = match scale {
            Scale::Linear => (low, high),
            Scale::Log10 => (low.log10(), high.log10()),
        };
        let range = padded(widened(low, high), padding);
        let (ticks, minor_ticks) = match scale {
            Scale::Linear => (linear_ticks(&range), Vec::new()),
            Scale::Log10 => log_ticks(&range),
        };
        Axis { scale, range, ticks, minor_ticks, reversed: false }
    }

    /// An axis over the cells `0..count` of an image, each cell one unit wide and centred on its
    /// index, with ticks only at whole indices.
    pub(super) fn cell_indices(count: usize) -> Self {
        let range = -0.5..count as f64 - 0.5;
        let last = (count as f64 - 1.0).max(1.0);
        let ticks = linear_ticks(&(0.0..last))
            .into_iter()
            .filter(|tick| tick.position.fract() == 0.0 && tick.position < count as f64)
            .map(|tick| Tick { label: format!("{:.0}", tick.position), ..tick })
            .collect();
        Axis { scale: Scale::Linear, range, ticks, minor_ticks: Vec::new(), reversed: false }
    }

    /// The same axis running from its high end to its low end, as image rows do.
    pub(super) fn reversed(self) -> Self {
        Axis { reversed: true, ..self }
    }

    /// Where `value` is drawn, or `None` if it cannot be: not finite, or not positive on a log axis.
    pub(super) fn position(&self, value: f64) -> Option<f64> {
        let position = match self.scale {
            Scale::Linear => value,
            Scale::Log10 if value > 0.0 => value.log10(),
            Scale::Log10 => return None,
        };
        position.is_finite().then_some(position)
    }

    pub(super) fn low(&self) -> f64 {
        self.range.start
    }

    pub(super) fn high(&self) -> f64 {
        self.range.end
    }

    /// The label of the tick at `position` (plotters asks only for the ticks it was given).
    pub(super) fn tick_label(&self, position: f64) -> String {
        let nearest =
            self.ticks.iter().min_by(|a, b| (a.position - position).abs().total_cmp(&(b.position - position).abs()));
        nearest.map(|tick| tick.label.clone()).unwrap_or_default()
    }

    pub(super) fn tick_positions(&self) -> impl Iterator<Item = f64> + '_ {
        self.ticks.iter().map(|tick| tick.position)
    }

    pub(super) fn tick_labels(&self) -> impl Iterator<Item = &str> {
        self.ticks.iter().map(|tick| tick.label.as_str())
    }

    /// The plain linear mapping of drawing units onto pixels, flipped if the axis is reversed.
    fn linear(&self) -> RangedCoordf64 {
        let Range { start, end } = self.range;
        if self.reversed {
            (end..start).into()
        } else {
            (start..end).into()
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear().map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor_ticks.clone()
        } else {
            self.tick_positions().collect()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear().range()
    }
}

/// A range of zero length cannot be drawn; give a single value some room around it.
fn widened(low: f64, high: f64) -> (f64, f64) {
    if high > low {
        (low, high)
    } else {
        let room = (low.abs() * 0.1).max(0.5);
        (low - room, high + room)
    }
}

fn padded((low, high): (f64, f64), padding: f64) -> Range<f64> {
    let room = (high - low) * padding;
    low - room..high + room
}

/// Round steps of 1, 2 or 5 times a power of ten, as plotters picks them.
fn linear_ticks(range: &Range<f64>) -> Vec<Tick> {
    let mut positions = RangedCoordf64::from(range.clone()).key_points(MAX_TICKS);
    // Steps added up in floating point put the tick at zero at 3.5e-18 or so; it is 0.
    let step = positions.windows(2).map(|pair| pair[1] - pair[0]).fold(f64::INFINITY, f64::min);
    positions.iter_mut().filter(|position| position.abs() < step * 1e-6).for_each(|position| *position = 0.0);
    let decimals = decimals_needed(&positions);
    positions.iter().map(|&position| Tick { position, label: decimal(position, decimals) }).collect()
}

/// The fewest decimals (up to 6) that tell every tick value exactly.
fn decimals_needed(values: &[f64]) -> usize {
    let step = values.windows(2).map(|pair| pair[1] - pair[0]).fold(f64::INFINITY, f64::min);
    let tolerance = if step.is_finite() { step * 1e-6 } else { 1e-9 };
    (0..6)
        .find(|&decimals| {
            let scale = 10f64.powi(decimals as i32);
            values.iter().all(|value| ((value * scale).round() / scale - value).abs() <= tolerance)
        })
        .unwrap_or(6)
}

/// Fixed-point for everyday magnitudes, scientific beyond them; never "-0", and with a true
/// minus sign, which is as wide as a digit, not a hyphen.
fn decimal(value: f64, decimals: usize) -> String {
    let magnitude = value.abs();
    let text = if magnitude != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        format!("{value:.1e}").replace(".0e", "e")
    } else {
        format!("{value:.decimals$}")
    };
    let unsigned = text.trim_start_matches('-');
    if unsigned.chars().all(|c| c == '0' || c == '.') {
        unsigned.to_string()
    } else {
        text.replace('-', "\u{2212}")
    }
}

/// Ticks on a log axis given in decades: a tick per decade (or every few decades) when the range
/// holds at least two, otherwise ticks at 1, 2 and 5 (or every digit) times a power of ten.
/// Minor ticks mark the digits in between.
fn log_ticks(range: &Range<f64>) -> (Vec<Tick>, Vec<f64>) {
    let first_decade = range.start.ceil() as i32;
    let last_decade = range.end.floor() as i32;
    let decade_count = (last_decade - first_decade + 1).max(0) as usize;
    if decade_count >= 2 {
        decade_ticks(range, first_decade, last_decade, decade_count)
    } else {
        digit_ticks(range)
    }
}

fn decade_ticks(range: &Range<f64>, first: i32, last: i32, count: usize) -> (Vec<Tick>, Vec<f64>) {
    let stride = count.div_ceil(MAX_TICKS) as i32;
    let ticks = (first..=last)
        .filter(|decade| decade.rem_euclid(stride) == 0)
        .map(|decade| Tick { position: f64::from(decade), label: power_of_ten(decade) })
        .collect();
    let minor = if stride == 1 { positions_of_digits(range, &[2, 3, 4, 5, 6, 7, 8, 9]) } else { Vec::new() };
    (ticks, minor)
}

fn digit_ticks(range: &Range<f64>) -> (Vec<Tick>, Vec<f64>) {
    if positions_of_digits(range, &[1, 2, 3, 4, 5, 6, 7, 8, 9]).len() < 2 {
        return (ticks_of_values_on_log_axis(range), Vec::new());
    }
    let mut digits: &[u32] = &[1, 2, 5];
    if positions_of_digits(range, digits).len() < 3 {
        digits = &[1, 2, 3, 4, 5, 6, 7, 8, 9];
    }
    let positions = positions_of_digits(range, digits);
    let values: Vec<f64> = positions.iter().map(|position| 10f64.powf(*position)).collect();
    let rounded: Vec<f64> = values.iter().map(|&value| round_to_significant(value, 2)).collect();
    let decimals = decimals_needed(&rounded);
    let ticks =
        positions.iter().zip(&rounded).map(|(&position, &value)| Tick { position, label: decimal(value, decimals) });
    let minor = positions_of_digits(range, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    (ticks.collect(), minor)
}

/// A range narrower than from one digit to the next gets round linear steps of the values.
fn ticks_of_values_on_log_axis(range: &Range<f64>) -> Vec<Tick> {
    let values = 10f64.powf(range.start)..10f64.powf(range.end);
    let ticks = linear_ticks(&values).into_iter();
    ticks.filter(|tick| tick.position > 0.0).map(|tick| Tick { position: tick.position.log10(), ..tick }).collect()
}

/// log10 of `digit` times each power of ten, for every such value inside `range`.
fn positions_of_digits(range: &Range<f64>, digits: &[u32]) -> Vec<f64> {
    let decades = (range.start.floor() as i32)..=(range.end.ceil() as i32);
    decades
        .flat_map(|decade| digits.iter().map(move |&digit| f64::from(decade) + f64::from(digit).log10()))
        .filter(|position| range.contains(position))
        .collect()
}

fn round_to_significant(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// "10⁻³", the way a physicist writes a decade.
fn power_of_ten(exponent: i32) -> String {
    let superscript: String = exponent
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            other => other,
        })
        .collect();
    format!("10{superscript}")
}
