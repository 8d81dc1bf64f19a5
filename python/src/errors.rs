//! One exception for every failure, its message the sentence the command line prints.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

create_exception!(
    balerc,
    BalercError,
    PyValueError,
    "A failure of balerc: bad data, a missing or mismatched model, a corrupt file, settings that do not fit."
);

/// An error and its causes as one sentence.
pub fn raised(error: &(dyn std::error::Error + 'static)) -> PyErr {
    BalercError::new_err(balerc_runtime::message::of_error(error))
}

/// A message that is already a sentence.
pub fn said(message: impl Into<String>) -> PyErr {
    BalercError::new_err(message.into())
}

/// `?` for library results: their errors become [`BalercError`].
pub trait OrRaise<T> {
    fn or_raise(self) -> Result<T, PyErr>;
}

impl<T, E: std::error::Error + 'static> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> Result<T, PyErr> {
        self.map_err(|e| raised(&e))
    }
}

/// An error with the context the command line gives it ("input X: ...").
pub fn in_context(context: &str, error: &(dyn std::error::Error + 'static)) -> PyErr {
    said(balerc_runtime::message::joined(
        std::iter::once(context.to_string())
            .chain(std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string)),
    ))
}
