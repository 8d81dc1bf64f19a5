//! The native half of the `balerc` Python package: the library crates' entry points, numpy in
//! and numpy out. The pure-Python half (`python/balerc`) gives them their documented
//! signatures; settings cross as JSON and arrays as contiguous float64 with their dtype's name.
//! Every long call runs detached from the interpreter, so other Python threads go on.

mod arrays;
mod codec;
mod errors;
mod hardware;
mod training;

use pyo3::prelude::*;

#[pymodule]
fn _balerc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BalercError", m.py().get_type::<errors::BalercError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(training::train, m)?)?;
    m.add_function(wrap_pyfunction!(codec::compress, m)?)?;
    m.add_function(wrap_pyfunction!(codec::decompress, m)?)?;
    m.add_function(wrap_pyfunction!(codec::compress_file, m)?)?;
    m.add_function(wrap_pyfunction!(codec::decompress_file, m)?)?;
    m.add_function(wrap_pyfunction!(hardware::lower, m)?)?;
    m.add_function(wrap_pyfunction!(hardware::simulate, m)?)?;
    Ok(())
}
