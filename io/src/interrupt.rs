//! A stop asked for from outside (Ctrl-C, SIGTERM, SIGHUP). Long loops look at it between
//! units of work and return an error, so that the outputs in progress are removed as the
//! work unwinds; the signal handler itself only records the signal.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked for the stop; 0 while none has.
static REQUESTED: AtomicI32 = AtomicI32::new(0);

/// Records that `signal` asked for a stop. Safe to call from a signal handler (one atomic store).
pub fn request(signal: i32) {
    REQUESTED.store(signal, Ordering::SeqCst);
}

/// The signal that asked for a stop, if one has.
pub fn requested() -> Option<i32> {
    Some(REQUESTED.load(Ordering::SeqCst)).filter(|&signal| signal != 0)
}

/// An error to stop with when a stop was asked for.
pub fn check() -> Result<(), String> {
    match requested() {
        Some(signal) => Err(format!("interrupted by signal {signal}")),
        None => Ok(()),
    }
}
