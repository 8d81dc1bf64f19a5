//! The constant tensors of a raw ONNX graph (initializers and Constant nodes) as f64 values,
//! for the quantizer parameters and the weights they quantize.

use onnx_ir::{GraphProto, TensorProto};
use std::collections::HashMap;

/// ONNX `TensorProto.DataType` codes read here.
mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const UINT16: i32 = 4;
    pub const INT16: i32 = 5;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const DOUBLE: i32 = 11;
    pub const UINT4: i32 = 21;
    pub const INT4: i32 = 22;
}

/// A constant tensor: its shape, its values and, for integer tensors, the range of its type.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
    /// (bits, signed) of an integer element type, as QuantizeLinear's output type.
    pub integer: Option<(u32, bool)>,
}

/// Every constant of the graph by the name of the tensor it defines.
pub fn constants(graph: &GraphProto) -> HashMap<String, ConstTensor> {
    let mut found = HashMap::new();
    for tensor in &graph.initializer {
        if let Some(c) = decode(tensor) {
            found.insert(tensor.name.clone(), c);
        }
    }
    for node in graph.node.iter().filter(|n| n.op_type == "Constant" && n.domain.is_empty()) {
        let value = node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref());
        if let (Some(tensor), Some(output)) = (value, node.output.first()) {
            if let Some(c) = decode(tensor) {
                found.insert(output.clone(), c);
            }
        }
    }
    found
}

/// The integer element type of an ONNX data type code, as (bits, signed).
pub fn integer_type(code: i32) -> Option<(u32, bool)> {
    use data_type::*;
    Some(match code {
        UINT8 => (8, false),
        INT8 => (8, true),
        UINT16 => (16, false),
        INT16 => (16, true),
        INT32 => (32, true),
        INT64 => (64, true),
        UINT4 => (4, false),
        INT4 => (4, true),
        _ => return None,
    })
}

fn decode(tensor: &TensorProto) -> Option<ConstTensor> {
    use data_type::*;
    let shape: Vec<usize> = tensor.dims.iter().map(|&d| d as usize).collect();
    let count: usize = shape.iter().product();
    let raw: &[u8] = &tensor.raw_data;
    let values: Vec<f64> = match tensor.data_type {
        FLOAT if !raw.is_empty() => {
            raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64).collect()
        }
        FLOAT => tensor.float_data.iter().map(|&v| v as f64).collect(),
        DOUBLE if !raw.is_empty() => {
            raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
        }
        DOUBLE => tensor.double_data.clone(),
        INT64 if !raw.is_empty() => {
            raw.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64).collect()
        }
        INT64 => tensor.int64_data.iter().map(|&v| v as f64).collect(),
        INT32 if !raw.is_empty() => {
            raw.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64).collect()
        }
        UINT8 if !raw.is_empty() => raw.iter().map(|&b| b as f64).collect(),
        INT8 if !raw.is_empty() => raw.iter().map(|&b| b as i8 as f64).collect(),
        UINT16 if !raw.is_empty() => {
            raw.chunks_exact(2).map(|b| u16::from_le_bytes(b.try_into().expect("2 bytes")) as f64).collect()
        }
        INT16 if !raw.is_empty() => {
            raw.chunks_exact(2).map(|b| i16::from_le_bytes(b.try_into().expect("2 bytes")) as f64).collect()
        }
        // Packed two to a byte, the first element in the low nibble.
        UINT4 | INT4 if !raw.is_empty() => raw
            .iter()
            .flat_map(|&b| [b & 0x0f, b >> 4])
            .take(count)
            .map(|n| if tensor.data_type == INT4 { ((n << 4) as i8 >> 4) as f64 } else { n as f64 })
            .collect(),
        UINT4 | INT4 => tensor
            .int32_data
            .iter()
            .flat_map(|&w| [(w & 0x0f) as u8, ((w >> 4) & 0x0f) as u8])
            .take(count)
            .map(|n| if tensor.data_type == INT4 { ((n << 4) as i8 >> 4) as f64 } else { n as f64 })
            .collect(),
        // The other integer types of 32 bits or fewer are stored one per int32_data entry.
        INT32 | UINT8 | INT8 | UINT16 | INT16 => tensor.int32_data.iter().map(|&v| v as f64).collect(),
        _ => return None,
    };
    (values.len() == count).then(|| ConstTensor { shape, values, integer: integer_type(tensor.data_type) })
}

/// A float32 initializer named `name` (values that are float32 already: quantized weights).
pub fn float_tensor(name: &str, shape: &[usize], values: &[f64]) -> TensorProto {
    let mut tensor = TensorProto::new();
    tensor.name = name.to_string();
    tensor.data_type = data_type::FLOAT;
    tensor.dims = shape.iter().map(|&d| d as i64).collect();
    tensor.float_data = values.iter().map(|&v| v as f32).collect();
    tensor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_int4_reads_low_nibble_first() {
        let mut t = TensorProto::new();
        t.data_type = data_type::INT4;
        t.dims = vec![3];
        t.raw_data = vec![0x8f_u8, 0x07].into();
        assert_eq!(decode(&t).unwrap().values, vec![-1.0, -8.0, 7.0]);
        t.data_type = data_type::UINT4;
        assert_eq!(decode(&t).unwrap().values, vec![15.0, 8.0, 7.0]);
    }
}
