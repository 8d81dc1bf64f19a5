//! Reading the ONNX protobuf itself: external weights are inlined so that the model
//! can be rewritten in memory (shape folding) and handed to onnx-ir as bytes.

use crate::{Error, Result};
use onnx_ir::{Message, ModelProto, TensorProto};
use std::path::{Component, Path};

/// Reads a model and pulls every externally stored tensor into the protobuf.
pub fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut model = ModelProto::parse_from_bytes(&bytes).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        message: format!("the protobuf does not decode ({e})"),
    })?;
    if model.graph.is_none() {
        return Err(invalid(path, "it has no graph"));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let graph = model.graph.as_mut().expect("checked above");
    for tensor in &mut graph.initializer {
        inline_external_data(tensor, base, path)?;
    }
    for node in &mut graph.node {
        for attribute in &mut node.attribute {
            if let Some(tensor) = attribute.t.as_mut() {
                inline_external_data(tensor, base, path)?;
            }
        }
    }
    Ok(model)
}

fn invalid(path: &Path, message: impl Into<String>) -> Error {
    Error::InvalidModel { path: path.to_path_buf(), message: message.into() }
}

fn inline_external_data(tensor: &mut TensorProto, base: &Path, model: &Path) -> Result<()> {
    if tensor.external_data.is_empty() {
        return Ok(());
    }
    let field = |key: &str| tensor.external_data.iter().find(|e| e.key == key).map(|e| e.value.clone());
    let location = field("location")
        .ok_or_else(|| invalid(model, format!("tensor '{}' has external data without a location", tensor.name)))?;
    let relative = Path::new(&location);
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(invalid(model, format!("tensor '{}' points outside the model's folder ({location})", tensor.name)));
    }
    let number = |key: &str| -> Result<Option<usize>> {
        field(key)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| invalid(model, format!("tensor '{}' has a bad external {key} '{v}'", tensor.name)))
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?;
    let data_path = base.join(relative);
    let data = std::fs::read(&data_path).map_err(|source| Error::Io { path: data_path.clone(), source })?;
    let end = length.map_or(data.len(), |l| offset + l);
    let slice = data.get(offset..end).ok_or_else(|| {
        invalid(
            model,
            format!(
                "tensor '{}' reads bytes {offset}..{end} of {}, which has only {}",
                tensor.name,
                data_path.display(),
                data.len()
            ),
        )
    })?;
    tensor.raw_data = slice.to_vec().into();
    tensor.external_data.clear();
    tensor.data_location = Default::default();
    Ok(())
}

/// The integer contents of an INT64 or INT32 tensor, or None for other types.
pub fn integer_values(tensor: &TensorProto) -> Option<Vec<i64>> {
    const INT32: i32 = 6;
    const INT64: i32 = 7;
    match tensor.data_type {
        INT64 if !tensor.raw_data.is_empty() => {
            Some(tensor.raw_data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect())
        }
        INT64 => Some(tensor.int64_data.clone()),
        INT32 if !tensor.raw_data.is_empty() => Some(
            tensor
                .raw_data
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64)
                .collect(),
        ),
        INT32 => Some(tensor.int32_data.iter().map(|&v| v as i64).collect()),
        _ => None,
    }
}

/// An INT64 tensor holding `values`, as an initializer named `name`.
pub fn int64_tensor(name: &str, values: &[i64]) -> TensorProto {
    let mut tensor = TensorProto::new();
    tensor.name = name.to_string();
    tensor.data_type = 7;
    tensor.dims = vec![values.len() as i64];
    tensor.int64_data = values.to_vec();
    tensor
}
