//! A page drawn twice, into PNG bytes and into SVG text, and both written beside each other.
//! Both are drawn in memory first, so a figure that cannot be drawn leaves no file behind.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ColorType, ImageEncoder};
use plotters::prelude::*;

use super::{drawing_error, font, Page, PlotError};

/// plotters-svg labels embedded PNGs with this non-standard media type, which strict SVG
/// renderers refuse; the standard one is written instead.
const PLOTTERS_PNG_DATA_URL: &str = "\"data:png;base64,";
const STANDARD_PNG_DATA_URL: &str = "\"data:image/png;base64,";

/// Writes `<stem>.png` and `<stem>.svg`, each atomically, and returns their paths.
pub(super) fn write(page: &Page, stem: &Path) -> Result<Vec<PathBuf>, PlotError> {
    font::ensure_registered()?;
    let png = png_bytes(page)?;
    let svg = svg_text(page)?;
    let png_path = with_extension(stem, "png");
    let svg_path = with_extension(stem, "svg");
    write_file(&png_path, &png)?;
    write_file(&svg_path, svg.as_bytes())?;
    Ok(vec![png_path, svg_path])
}

fn png_bytes(page: &Page) -> Result<Vec<u8>, PlotError> {
    let (width, height) = page.size_in_pixels();
    let mut rgb = vec![0; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        page.draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&rgb, width, height, ColorType::Rgb8)
        .map_err(|error| PlotError::Encoding(error.to_string()))?;
    Ok(png)
}

fn svg_text(page: &Page) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, page.size_in_pixels()).into_drawing_area();
        page.draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg.replace(PLOTTERS_PNG_DATA_URL, STANDARD_PNG_DATA_URL))
}

/// `stem` with `.extension` appended, not replacing a dot already in the name ("loss.v2").
fn with_extension(stem: &Path, extension: &str) -> PathBuf {
    let mut name = OsString::from(stem.as_os_str());
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    crate::atomic::write_atomically(path, |file| std::io::Write::write_all(file, bytes))
        .map_err(|source| PlotError::Write { path: path.to_path_buf(), source })
}
