//! The one typeface of every figure, compiled into the binary.
//!
//! It is DejaVu Sans, matplotlib's default face, so the figures read like the plots physicists
//! already know. The `dejavu` crate ships the unmodified final upstream release (2.37, frozen
//! upstream since 2016, so the crate's age is no concern) together with its licence, the
//! Bitstream Vera terms, which allow embedding and redistribution. Taking it from a crate keeps
//! font files out of this repository; embedding it means plotters needs neither fontconfig nor
//! freetype to build and no installed font to run. Only the regular face is linked (~740 kB).

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use super::PlotError;

/// The family every text style asks for. SVG files carry it as a CSS font list, so a viewer
/// without DejaVu Sans falls back to its own sans-serif face.
pub(super) const FAMILY: &str = "DejaVu Sans, sans-serif";

/// Registers the embedded face once per process, under [`FAMILY`] and under plotters' default
/// "sans-serif" so that no text plotters styles by itself can miss it.
pub(super) fn ensure_registered() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        [FAMILY, "sans-serif"]
            .iter()
            .all(|family| register_font(family, FontStyle::Normal, dejavu::sans::regular()).is_ok())
    });
    if registered {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}
