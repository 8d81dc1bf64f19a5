//! Model frontends. ONNX is the interchange format every exporter writes.

pub mod onnx;

use crate::ir::Graph;
use crate::Result;
use std::path::Path;

/// Loads a model file into the IR, choosing the frontend by what the path is.
pub fn load(path: &Path) -> Result<Graph> {
    onnx::load(path)
}
