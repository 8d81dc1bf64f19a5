//! A spinner with the elapsed time for work that reports no progress of its own (lowering,
//! a simulator's build, yosys, the stages of an evaluation), drawn on a terminal only: quiet
//! in pipes and CI.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Spins while alive; cleared when dropped, so that an early return or an error leaves no
/// stale line behind.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// `what` is the work under way, as `lowering model.onnx`.
    pub fn on_terminal(what: impl Into<String>) -> Spinner {
        let shown = std::io::stderr().is_terminal();
        Spinner(shown.then(|| {
            let bar = ProgressBar::new_spinner()
                .with_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"))
                .with_message(what.into());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }))
    }

    /// Runs `print`, the spinner hidden meanwhile, so that printed lines do not mix with it.
    pub fn suspend<T>(&self, print: impl FnOnce() -> T) -> T {
        match &self.0 {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// The work under way now, for work that goes through stages.
    pub fn say(&self, what: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(what.into());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
