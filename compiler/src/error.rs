//! The one error type of the compiler: every variant reads as a sentence that names
//! the file, node or field at fault.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path} is not a valid ONNX model: {message}")]
    InvalidModel { path: PathBuf, message: String },

    #[error("unsupported {op_type} at node '{node}': {what}")]
    Unsupported { op_type: String, node: String, what: String },

    #[error("shape error at node '{node}': {message}")]
    Shape { node: String, message: String },

    #[error("precision error: {0}")]
    Precision(String),

    #[error("invalid input data: {0}")]
    Data(String),

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn unsupported(op_type: impl Into<String>, node: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Unsupported { op_type: op_type.into(), node: node.into(), what: what.into() }
    }

    pub fn shape(node: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Shape { node: node.into(), message: message.into() }
    }
}
