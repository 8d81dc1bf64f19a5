//! Writes a trained sequential network as an ONNX model that onnxruntime and balerc's
//! own compiler both load.
//!
//! Each layer becomes one node named `<kind>_<layer index>` (`dense_0`, `leaky_relu_1`,
//! `conv_2`, ...). Precision files refer to layers by these node names, so a name
//! depends on nothing but the layer's kind and position. A layer's parameters are
//! initializers named after its node (`dense_0.weight`, `dense_0.bias`).

use crate::atomic::write_atomically;
use onnx_ir::{AttributeProto, AttributeType, GraphProto, Message, ModelProto, NodeProto, TensorProto, ValueInfoProto};
use std::io::Write;
use std::path::{Path, PathBuf};

const IR_VERSION: i64 = 8;
const OPSET: i64 = 17;
const PRODUCER: &str = "balerc";
const INPUT: &str = "input";
const OUTPUT: &str = "output";
const BATCH: &str = "batch";
/// `TensorProto.DataType` codes.
const FLOAT: i32 = 1;
const INT64: i32 = 7;

/// One layer of an exported network, weights in ONNX's own layouts, f32.
#[derive(Debug, Clone)]
pub enum ExportLayer {
    /// y = x Wᵀ + b, with `weight` shaped [outputs, inputs] row-major as in PyTorch's
    /// Linear; exported as Gemm with transB=1.
    Dense {
        inputs: usize,
        outputs: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
    /// ONNX Conv, weight [out_channels, in_channels, k...] (1, 2 or 3 spatial dims),
    /// symmetric padding.
    Conv {
        weight: Vec<f32>,
        weight_shape: Vec<usize>,
        bias: Vec<f32>,
        stride: Vec<usize>,
        padding: Vec<usize>,
    },
    /// ONNX ConvTranspose, weight [in_channels, out_channels, k...].
    ConvTranspose {
        weight: Vec<f32>,
        weight_shape: Vec<usize>,
        bias: Vec<f32>,
        stride: Vec<usize>,
        padding: Vec<usize>,
        output_padding: Vec<usize>,
    },
    /// Inference-mode batch normalization over channels (axis 1).
    BatchNorm {
        gamma: Vec<f32>,
        beta: Vec<f32>,
        mean: Vec<f32>,
        variance: Vec<f32>,
        epsilon: f32,
    },
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    /// [batch, d1, d2, ...] -> [batch, d1*d2*...]
    Flatten,
    /// [batch, n] -> [batch, shape...], keeping the batch free.
    Unflatten {
        shape: Vec<usize>,
    },
}

/// A sequential network with a free batch dimension.
#[derive(Debug, Clone)]
pub struct ExportNetwork {
    /// The graph name, e.g. "encoder".
    pub name: String,
    /// The shape of one sample, without the batch, e.g. [24] or [1, 50, 50].
    pub input_shape: Vec<usize>,
    pub layers: Vec<ExportLayer>,
}

/// Why a network cannot be exported; each message names the network, layer or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("network '{network}' {message}")]
    Network { network: String, message: String },
    #[error("layer {index} ({node}) {message}")]
    Layer { index: usize, node: String, message: String },
    #[error("the ONNX model of network '{network}' does not serialize: {message}")]
    Encode { network: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl ExportLayer {
    /// The snake_case kind that begins the layer's node name.
    pub fn kind(&self) -> &'static str {
        match self {
            ExportLayer::Dense { .. } => "dense",
            ExportLayer::Conv { .. } => "conv",
            ExportLayer::ConvTranspose { .. } => "conv_transpose",
            ExportLayer::BatchNorm { .. } => "batch_norm",
            ExportLayer::Relu => "relu",
            ExportLayer::LeakyRelu { .. } => "leaky_relu",
            ExportLayer::Sigmoid => "sigmoid",
            ExportLayer::Tanh => "tanh",
            ExportLayer::Flatten => "flatten",
            ExportLayer::Unflatten { .. } => "unflatten",
        }
    }
}

/// The ONNX node name of the layer at `index`, as precision files spell it.
pub fn node_name(index: usize, layer: &ExportLayer) -> String {
    format!("{}_{index}", layer.kind())
}

/// The output shape without batch; also checks every layer's parameters and that the
/// layers' shapes chain.
pub fn output_shape(network: &ExportNetwork) -> Result<Vec<usize>, ExportError> {
    check_network(network)?;
    network
        .layers
        .iter()
        .enumerate()
        .try_fold(network.input_shape.clone(), |shape, (index, layer)| LayerCheck { index, layer }.output_shape(&shape))
}

/// Builds the ONNX model: opset 17, one input "input" and one output "output", both
/// with a symbolic batch dimension "batch".
pub fn to_model_proto(network: &ExportNetwork) -> Result<ModelProto, ExportError> {
    let output_shape = output_shape(network)?;
    let mut graph = GraphProto::new();
    graph.name = network.name.clone();
    graph.input.push(batched_value_info(INPUT, &network.input_shape));
    graph.output.push(batched_value_info(OUTPUT, &output_shape));
    let mut previous = INPUT.to_string();
    for (index, layer) in network.layers.iter().enumerate() {
        let name = node_name(index, layer);
        let is_last = index + 1 == network.layers.len();
        let output = if is_last { OUTPUT.to_string() } else { format!("{name}.output") };
        layer_node(layer, &name, &previous, &output).add_to(&mut graph);
        previous = output;
    }
    Ok(model(graph))
}

/// Serializes the network's ONNX model to `path`; a failure leaves no partial file.
pub fn write(network: &ExportNetwork, path: &Path) -> Result<(), ExportError> {
    let bytes = to_model_proto(network)?
        .write_to_bytes()
        .map_err(|e| ExportError::Encode { network: network.name.clone(), message: e.to_string() })?;
    write_atomically(path, |file| file.write_all(&bytes))
        .map_err(|source| ExportError::Write { path: path.to_path_buf(), source })
}

fn check_network(network: &ExportNetwork) -> Result<(), ExportError> {
    let fail = |message: String| Err(ExportError::Network { network: network.name.clone(), message });
    if network.layers.is_empty() {
        return fail("has no layers".into());
    }
    if network.input_shape.is_empty() || network.input_shape.contains(&0) {
        return fail(format!(
            "has input shape {:?}, but a sample needs at least one dimension and no empty one",
            network.input_shape
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Checking layers and inferring shapes
// ---------------------------------------------------------------------------------------

/// What Conv and ConvTranspose have in common.
struct Convolution<'a> {
    weight: &'a [f32],
    weight_shape: &'a [usize],
    bias: &'a [f32],
    stride: &'a [usize],
    padding: &'a [usize],
    /// Present for ConvTranspose only, whose weight is [in, out, k...] rather than
    /// Conv's [out, in, k...].
    output_padding: Option<&'a [usize]>,
}

impl<'a> Convolution<'a> {
    fn of(layer: &'a ExportLayer) -> Option<Self> {
        match layer {
            ExportLayer::Conv { weight, weight_shape, bias, stride, padding } => {
                Some(Convolution { weight, weight_shape, bias, stride, padding, output_padding: None })
            }
            ExportLayer::ConvTranspose { weight, weight_shape, bias, stride, padding, output_padding } => {
                Some(Convolution { weight, weight_shape, bias, stride, padding, output_padding: Some(output_padding) })
            }
            _ => None,
        }
    }

    fn kernel(&self) -> &[usize] {
        self.weight_shape.get(2..).unwrap_or_default()
    }

    fn in_and_out_channels(&self) -> (usize, usize) {
        let (first, second) = (self.weight_shape[0], self.weight_shape[1]);
        if self.output_padding.is_some() {
            (first, second)
        } else {
            (second, first)
        }
    }

    /// The output extent along one spatial axis, or None when nothing is left.
    fn extent(&self, axis: usize, input: usize) -> Option<usize> {
        let (kernel, stride, padding) = (self.kernel()[axis], self.stride[axis], self.padding[axis]);
        match self.output_padding {
            None => {
                let padded = input.checked_add(padding.checked_mul(2)?)?;
                Some(padded.checked_sub(kernel)? / stride + 1)
            }
            Some(output_padding) => {
                let spread = input
                    .checked_sub(1)?
                    .checked_mul(stride)?
                    .checked_add(kernel)?
                    .checked_add(output_padding[axis])?;
                spread.checked_sub(padding.checked_mul(2)?).filter(|&extent| extent > 0)
            }
        }
    }
}

/// Checks one layer against the shape it receives, and reports failures by its index
/// and node name.
struct LayerCheck<'a> {
    index: usize,
    layer: &'a ExportLayer,
}

type Checked<T = ()> = Result<T, ExportError>;

impl LayerCheck<'_> {
    fn fail<T>(&self, message: String) -> Checked<T> {
        Err(ExportError::Layer { index: self.index, node: node_name(self.index, self.layer), message })
    }

    fn output_shape(&self, input: &[usize]) -> Checked<Vec<usize>> {
        match self.layer {
            ExportLayer::Dense { inputs, outputs, weight, bias } => self.dense(input, *inputs, *outputs, weight, bias),
            ExportLayer::Conv { .. } | ExportLayer::ConvTranspose { .. } => {
                self.convolution(input, &Convolution::of(self.layer).expect("the layer is a convolution"))
            }
            ExportLayer::BatchNorm { gamma, beta, mean, variance, epsilon } => self.batch_norm(
                input,
                [("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)],
                *epsilon,
            ),
            ExportLayer::LeakyRelu { alpha } => {
                self.finite("alpha", &[*alpha])?;
                Ok(input.to_vec())
            }
            ExportLayer::Relu | ExportLayer::Sigmoid | ExportLayer::Tanh => Ok(input.to_vec()),
            ExportLayer::Flatten => Ok(vec![self.count(input)?]),
            ExportLayer::Unflatten { shape } => self.unflatten(input, shape),
        }
    }

    fn dense(
        &self,
        input: &[usize],
        inputs: usize,
        outputs: usize,
        weight: &[f32],
        bias: &[f32],
    ) -> Checked<Vec<usize>> {
        if inputs == 0 || outputs == 0 {
            return self.fail(format!("has {inputs} inputs and {outputs} outputs, but needs at least one of each"));
        }
        if input != [inputs] {
            return self.fail(format!("expects {inputs} inputs, but the shape before it is {input:?}"));
        }
        self.parameter("weight", weight, self.count(&[outputs, inputs])?, "one per output and input")?;
        self.parameter("bias", bias, outputs, "one per output")?;
        Ok(vec![outputs])
    }

    fn convolution(&self, input: &[usize], conv: &Convolution) -> Checked<Vec<usize>> {
        let shape = conv.weight_shape;
        if !(3..=5).contains(&shape.len()) || shape.contains(&0) {
            return self
                .fail(format!("has weight shape {shape:?}, which is not [channels, channels, 1 to 3 kernel extents]"));
        }
        let (in_channels, out_channels) = conv.in_and_out_channels();
        let spatial = conv.kernel().len();
        self.parameter("weight", conv.weight, self.count(shape)?, &format!("a weight of shape {shape:?}"))?;
        self.parameter("bias", conv.bias, out_channels, "one per output channel")?;
        self.per_axis("stride", conv.stride, spatial)?;
        self.per_axis("padding", conv.padding, spatial)?;
        if conv.stride.contains(&0) {
            return self.fail(format!("has stride {:?}, but a stride must be at least 1", conv.stride));
        }
        if let Some(output_padding) = conv.output_padding {
            self.per_axis("output_padding", output_padding, spatial)?;
            if output_padding.iter().zip(conv.stride).any(|(p, s)| p >= s) {
                return self.fail(format!(
                    "has output_padding {output_padding:?}, which is not smaller than its stride {:?}",
                    conv.stride
                ));
            }
        }
        if input.len() != spatial + 1 || input[0] != in_channels {
            return self.fail(format!(
                "expects {in_channels} channels and {spatial} spatial dimensions, but the shape before it is {input:?}"
            ));
        }
        let extents: Option<Vec<usize>> = (0..spatial).map(|axis| conv.extent(axis, input[axis + 1])).collect();
        let Some(extents) = extents else {
            return self.fail(format!("leaves no output for the input shape {input:?}"));
        };
        Ok([vec![out_channels], extents].concat())
    }

    fn batch_norm(&self, input: &[usize], parameters: [(&str, &[f32]); 4], epsilon: f32) -> Checked<Vec<usize>> {
        let Some(&channels) = input.first() else {
            return self.fail("receives a sample without dimensions".into());
        };
        for (role, values) in parameters {
            self.parameter(role, values, channels, "one per channel")?;
        }
        let variance = parameters[3].1;
        if let Some(negative) = variance.iter().position(|&v| v < 0.0) {
            return self.fail(format!("has a negative variance ({} at index {negative})", variance[negative]));
        }
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return self.fail(format!("has epsilon {epsilon}, but it must be positive"));
        }
        Ok(input.to_vec())
    }

    fn unflatten(&self, input: &[usize], shape: &[usize]) -> Checked<Vec<usize>> {
        if shape.is_empty() || shape.contains(&0) || self.count(shape)? != self.count(input)? {
            return self.fail(format!("cannot unflatten the shape before it, {input:?}, into {shape:?}"));
        }
        Ok(shape.to_vec())
    }

    /// Checks that a parameter holds `expected` finite values.
    fn parameter(&self, role: &str, values: &[f32], expected: usize, why: &str) -> Checked {
        if values.len() != expected {
            return self.fail(format!("has {} {role} values instead of {expected} ({why})", values.len()));
        }
        self.finite(role, values)
    }

    fn finite(&self, role: &str, values: &[f32]) -> Checked {
        match values.iter().position(|v| !v.is_finite()) {
            Some(bad) => self.fail(format!("has a non-finite {role} ({} at index {bad})", values[bad])),
            None => Ok(()),
        }
    }

    /// Checks that a per-axis setting has one value per spatial dimension.
    fn per_axis(&self, role: &str, values: &[usize], spatial: usize) -> Checked {
        if values.len() == spatial {
            Ok(())
        } else {
            self.fail(format!("has {role} {values:?}, but needs one value per spatial dimension ({spatial})"))
        }
    }

    fn count(&self, shape: &[usize]) -> Checked<usize> {
        match shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
            Some(n) => Ok(n),
            None => self.fail(format!("has shape {shape:?}, whose size overflows")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Building the protobuf
// ---------------------------------------------------------------------------------------

/// The ONNX node of a layer whose parameters and shapes have been checked.
fn layer_node(layer: &ExportLayer, name: &str, input: &str, output: &str) -> NodeBuilder {
    let node = |op_type: &str| NodeBuilder::new(op_type, name, input, output);
    match layer {
        ExportLayer::Dense { inputs, outputs, weight, bias } => node("Gemm")
            .float_input("weight", &[*outputs, *inputs], weight)
            .float_input("bias", &[bias.len()], bias)
            .int("transB", 1),
        ExportLayer::Conv { .. } => {
            convolution_node(node("Conv"), &Convolution::of(layer).expect("the layer is a convolution"))
        }
        ExportLayer::ConvTranspose { .. } => {
            convolution_node(node("ConvTranspose"), &Convolution::of(layer).expect("the layer is a convolution"))
        }
        ExportLayer::BatchNorm { gamma, beta, mean, variance, epsilon } => {
            let channels = [gamma.len()];
            node("BatchNormalization")
                .float_input("gamma", &channels, gamma)
                .float_input("beta", &channels, beta)
                .float_input("mean", &channels, mean)
                .float_input("variance", &channels, variance)
                .float("epsilon", *epsilon)
        }
        ExportLayer::Relu => node("Relu"),
        ExportLayer::LeakyRelu { alpha } => node("LeakyRelu").float("alpha", *alpha),
        ExportLayer::Sigmoid => node("Sigmoid"),
        ExportLayer::Tanh => node("Tanh"),
        ExportLayer::Flatten => node("Flatten").int("axis", 1),
        ExportLayer::Unflatten { shape } => {
            // -1 lets the batch dimension through whatever its size.
            let target: Vec<i64> = std::iter::once(-1).chain(shape.iter().map(|&d| d as i64)).collect();
            node("Reshape").int64_input("shape", &target)
        }
    }
}

fn convolution_node(node: NodeBuilder, conv: &Convolution) -> NodeBuilder {
    let spatial = conv.kernel().len();
    let node = node
        .float_input("weight", conv.weight_shape, conv.weight)
        .float_input("bias", &[conv.bias.len()], conv.bias)
        .ints("kernel_shape", conv.kernel())
        .ints("strides", conv.stride)
        // ONNX lists every axis's leading padding, then every axis's trailing padding.
        .ints("pads", &[conv.padding, conv.padding].concat())
        .ints("dilations", &vec![1; spatial])
        .int("group", 1);
    match conv.output_padding {
        Some(output_padding) => node.ints("output_padding", output_padding),
        None => node,
    }
}

/// One node under construction, with the initializers that hold its parameters.
struct NodeBuilder {
    node: NodeProto,
    initializers: Vec<TensorProto>,
}

impl NodeBuilder {
    fn new(op_type: &str, name: &str, input: &str, output: &str) -> Self {
        let mut node = NodeProto::new();
        node.op_type = op_type.to_string();
        node.name = name.to_string();
        node.input.push(input.to_string());
        node.output.push(output.to_string());
        NodeBuilder { node, initializers: Vec::new() }
    }

    /// Adds a constant input `<node>.<role>`.
    fn input(mut self, role: &str, mut tensor: TensorProto) -> Self {
        tensor.name = format!("{}.{role}", self.node.name);
        self.node.input.push(tensor.name.clone());
        self.initializers.push(tensor);
        self
    }

    fn float_input(self, role: &str, dims: &[usize], values: &[f32]) -> Self {
        let mut tensor = tensor_of(FLOAT, dims);
        tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into();
        self.input(role, tensor)
    }

    fn int64_input(self, role: &str, values: &[i64]) -> Self {
        let mut tensor = tensor_of(INT64, &[values.len()]);
        tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into();
        self.input(role, tensor)
    }

    fn attribute(mut self, name: &str, kind: AttributeType, set: impl FnOnce(&mut AttributeProto)) -> Self {
        let mut attribute = AttributeProto::new();
        attribute.name = name.to_string();
        attribute.type_ = kind.into();
        set(&mut attribute);
        self.node.attribute.push(attribute);
        self
    }

    fn int(self, name: &str, value: i64) -> Self {
        self.attribute(name, AttributeType::INT, |a| a.i = value)
    }

    fn ints(self, name: &str, values: &[usize]) -> Self {
        self.attribute(name, AttributeType::INTS, |a| a.ints = values.iter().map(|&v| v as i64).collect())
    }

    fn float(self, name: &str, value: f32) -> Self {
        self.attribute(name, AttributeType::FLOAT, |a| a.f = value)
    }

    fn add_to(self, graph: &mut GraphProto) {
        graph.initializer.extend(self.initializers);
        graph.node.push(self.node);
    }
}

fn tensor_of(data_type: i32, dims: &[usize]) -> TensorProto {
    let mut tensor = TensorProto::new();
    tensor.data_type = data_type;
    tensor.dims = dims.iter().map(|&d| d as i64).collect();
    tensor
}

/// A float tensor's name and type, its first dimension the symbolic batch.
fn batched_value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    let mut info = ValueInfoProto::new();
    info.name = name.to_string();
    let tensor = info.type_.mut_or_insert_default().mut_tensor_type();
    tensor.elem_type = FLOAT;
    let dims = &mut tensor.shape.mut_or_insert_default().dim;
    dims.resize_with(shape.len() + 1, Default::default);
    dims[0].set_dim_param(BATCH.to_string());
    for (dim, &extent) in dims[1..].iter_mut().zip(shape) {
        dim.set_dim_value(extent as i64);
    }
    info
}

fn model(graph: GraphProto) -> ModelProto {
    let mut model = ModelProto::new();
    model.ir_version = IR_VERSION;
    model.producer_name = PRODUCER.to_string();
    model.producer_version = env!("CARGO_PKG_VERSION").to_string();
    // onnx-ir does not export OperatorSetIdProto by name; a default entry's empty
    // domain is the standard ONNX operator set.
    model.opset_import.resize_with(1, Default::default);
    model.opset_import[0].version = OPSET;
    *model.graph.mut_or_insert_default() = graph;
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(inputs: usize, outputs: usize) -> ExportLayer {
        ExportLayer::Dense { inputs, outputs, weight: vec![0.5; inputs * outputs], bias: vec![0.0; outputs] }
    }

    fn network(input_shape: &[usize], layers: Vec<ExportLayer>) -> ExportNetwork {
        ExportNetwork { name: "net".into(), input_shape: input_shape.to_vec(), layers }
    }

    fn conv_2d(in_channels: usize, out_channels: usize, kernel: usize, stride: usize, padding: usize) -> ExportLayer {
        ExportLayer::Conv {
            weight: vec![0.1; out_channels * in_channels * kernel * kernel],
            weight_shape: vec![out_channels, in_channels, kernel, kernel],
            bias: vec![0.0; out_channels],
            stride: vec![stride; 2],
            padding: vec![padding; 2],
        }
    }

    fn conv_transpose_2d(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        out_pad: usize,
    ) -> ExportLayer {
        let [in_channels, out_channels] = channels;
        ExportLayer::ConvTranspose {
            weight: vec![0.1; in_channels * out_channels * kernel * kernel],
            weight_shape: vec![in_channels, out_channels, kernel, kernel],
            bias: vec![0.0; out_channels],
            stride: vec![stride; 2],
            padding: vec![padding; 2],
            output_padding: vec![out_pad; 2],
        }
    }

    fn error(network: &ExportNetwork) -> String {
        to_model_proto(network).expect_err("the network is refused").to_string()
    }

    #[test]
    fn names_nodes_by_kind_and_position() {
        let net =
            network(&[4], vec![dense(4, 3), ExportLayer::LeakyRelu { alpha: 0.01 }, dense(3, 2), ExportLayer::Tanh]);
        let model = to_model_proto(&net).unwrap();
        let graph = model.graph.as_ref().unwrap();
        let names: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["dense_0", "leaky_relu_1", "dense_2", "tanh_3"]);
        let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(initializers, ["dense_0.weight", "dense_0.bias", "dense_2.weight", "dense_2.bias"]);
        assert_eq!(graph.node[0].input, ["input", "dense_0.weight", "dense_0.bias"]);
        assert_eq!(graph.node[3].output, ["output"]);
    }

    #[test]
    fn writes_opset_17_with_a_symbolic_batch() {
        let model = to_model_proto(&network(&[1, 8, 8], vec![conv_2d(1, 2, 3, 2, 1)])).unwrap();
        assert_eq!((model.ir_version, model.producer_name.as_str()), (8, "balerc"));
        assert_eq!(model.opset_import.len(), 1);
        assert_eq!((model.opset_import[0].domain.as_str(), model.opset_import[0].version), ("", 17));
        let graph = model.graph.as_ref().unwrap();
        let dims = |info: &ValueInfoProto| -> Vec<String> {
            let shape = info.type_.tensor_type().shape.as_ref().unwrap();
            shape
                .dim
                .iter()
                .map(|d| if d.has_dim_param() { d.dim_param().into() } else { d.dim_value().to_string() })
                .collect()
        };
        assert_eq!(
            (graph.input[0].name.as_str(), dims(&graph.input[0])),
            ("input", vec!["batch".into(), "1".into(), "8".into(), "8".into()])
        );
        assert_eq!(
            (graph.output[0].name.as_str(), dims(&graph.output[0])),
            ("output", vec!["batch".into(), "2".into(), "4".into(), "4".into()])
        );
    }

    #[test]
    fn exports_dense_as_gemm_with_a_transposed_weight() {
        let model = to_model_proto(&network(&[3], vec![dense(3, 2)])).unwrap();
        let graph = model.graph.as_ref().unwrap();
        let gemm = &graph.node[0];
        assert_eq!(gemm.op_type, "Gemm");
        assert!(gemm.attribute.iter().any(|a| a.name == "transB" && a.i == 1));
        assert_eq!(graph.initializer[0].dims, [2, 3]);
    }

    #[test]
    fn unflatten_keeps_the_batch_free() {
        let model = to_model_proto(&network(&[8], vec![ExportLayer::Unflatten { shape: vec![2, 4] }])).unwrap();
        let shape = &model.graph.as_ref().unwrap().initializer[0];
        assert_eq!((shape.name.as_str(), shape.data_type), ("unflatten_0.shape", INT64));
        let values: Vec<i64> =
            shape.raw_data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(values, [-1, 2, 4]);
    }

    #[test]
    fn infers_convolution_shapes() {
        let down = network(&[1, 8, 8], vec![conv_2d(1, 2, 3, 2, 1), ExportLayer::Flatten]);
        assert_eq!(output_shape(&down).unwrap(), [32]);
        let up = network(&[2, 4, 4], vec![conv_transpose_2d([2, 1], 3, 2, 1, 1)]);
        assert_eq!(output_shape(&up).unwrap(), [1, 8, 8]);
        let valid = network(&[3, 7, 5], vec![conv_2d(3, 4, 3, 2, 0)]);
        assert_eq!(output_shape(&valid).unwrap(), [4, 3, 2]);
    }

    #[test]
    fn a_weight_of_the_wrong_length_names_its_layer() {
        let mut net = network(&[4], vec![dense(4, 3), ExportLayer::Relu, dense(3, 2)]);
        if let ExportLayer::Dense { weight, .. } = &mut net.layers[2] {
            weight.pop();
        }
        let err = error(&net);
        assert!(err.starts_with("layer 2 (dense_2)") && err.contains("5 weight values instead of 6"), "{err}");
    }

    #[test]
    fn a_convolution_weight_of_the_wrong_length_names_its_layer() {
        let mut net = network(&[1, 8, 8], vec![ExportLayer::Relu, conv_2d(1, 2, 3, 1, 1)]);
        if let ExportLayer::Conv { weight_shape, .. } = &mut net.layers[1] {
            weight_shape[2] = 5;
        }
        assert!(error(&net).starts_with("layer 1 (conv_1) has 18 weight values instead of 30"), "{}", error(&net));
    }

    #[test]
    fn shapes_that_do_not_chain_name_the_layer() {
        let net = network(&[4], vec![dense(4, 3), ExportLayer::Sigmoid, dense(5, 2)]);
        let err = error(&net);
        assert!(err.starts_with("layer 2 (dense_2) expects 5 inputs") && err.contains("[3]"), "{err}");

        let net = network(&[4], vec![ExportLayer::Unflatten { shape: vec![1, 4] }, conv_2d(2, 1, 1, 1, 0)]);
        assert!(error(&net).starts_with("layer 1 (conv_1) expects 2 channels"), "{}", error(&net));

        let net = network(&[6], vec![ExportLayer::Unflatten { shape: vec![4, 2] }]);
        assert!(error(&net).starts_with("layer 0 (unflatten_0) cannot unflatten"), "{}", error(&net));
    }

    #[test]
    fn refuses_bad_parameters_by_layer() {
        let too_small = network(&[1, 2, 2], vec![conv_2d(1, 1, 5, 1, 0)]);
        assert!(error(&too_small).contains("(conv_0) leaves no output"), "{}", error(&too_small));

        let wide_padding = network(&[2, 4, 4], vec![conv_transpose_2d([2, 1], 3, 2, 1, 2)]);
        assert!(error(&wide_padding).contains("not smaller than its stride"), "{}", error(&wide_padding));

        let nan = network(&[2], vec![ExportLayer::LeakyRelu { alpha: f32::NAN }]);
        assert!(error(&nan).starts_with("layer 0 (leaky_relu_0) has a non-finite alpha"), "{}", error(&nan));

        let batch_norm = ExportLayer::BatchNorm {
            gamma: vec![1.0; 3],
            beta: vec![0.0; 3],
            mean: vec![0.0; 2],
            variance: vec![1.0; 3],
            epsilon: 1e-5,
        };
        let short_mean = network(&[3], vec![batch_norm]);
        assert!(error(&short_mean).contains("(batch_norm_0) has 2 mean values instead of 3"), "{}", error(&short_mean));
    }

    #[test]
    fn refuses_empty_networks_and_inputs() {
        assert_eq!(error(&network(&[3], vec![])), "network 'net' has no layers");
        assert!(error(&network(&[0], vec![ExportLayer::Relu])).contains("input shape [0]"));
    }

    #[test]
    fn writes_a_model_that_decodes_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.onnx");
        let net = network(&[4], vec![dense(4, 2), ExportLayer::Sigmoid]);
        write(&net, &path).unwrap();
        let model = ModelProto::parse_from_bytes(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(model.graph.as_ref().unwrap().node.len(), 2);

        let missing = dir.path().join("no such folder").join("net.onnx");
        assert!(write(&net, &missing).unwrap_err().to_string().starts_with("cannot write"));
    }
}
