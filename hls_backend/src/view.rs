//! What the templates print: every name, type spelling, code, dimension and pragma of the
//! project, computed here so that the templates hold layout only.

use crate::layer_view::layer_view;
use crate::{Error, Options};
use balerc_compiler::quant::QuantizedModel;
use std::fmt;

/// A C++ integer literal of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub i64);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // i64::MIN has no literal of its own: its magnitude overflows `long long`.
        if self.0 == i64::MIN {
            f.write_str("(-9223372036854775807LL - 1)")
        } else {
            fmt::Display::fmt(&self.0, f)
        }
    }
}

/// `typedef <ty> <name>;`
#[derive(Debug)]
pub struct Typedef {
    pub ty: String,
    pub name: String,
}

/// `static const <c_type> <name>[d0][d1] = { ... };`, the codes in rows of [`CODES_PER_ROW`].
#[derive(Debug)]
pub struct CodeArray {
    pub c_type: &'static str,
    pub name: String,
    pub dims: Vec<usize>,
    pub codes: Vec<Code>,
}

/// Codes per line of a constant array: short lines keep the headers readable in an editor.
const CODES_PER_ROW: usize = 16;

impl CodeArray {
    pub fn new(c_type: &'static str, name: String, dims: Vec<usize>, codes: impl IntoIterator<Item = i64>) -> Self {
        CodeArray { c_type, name, dims, codes: codes.into_iter().map(Code).collect() }
    }

    /// The codes as printed, one line each.
    pub fn rows(&self) -> std::slice::Chunks<'_, Code> {
        self.codes.chunks(CODES_PER_ROW)
    }
}

/// `balerc::<kernel><template_args>(args);`
#[derive(Debug)]
pub struct KernelCall {
    pub kernel: &'static str,
    pub template_args: Vec<String>,
    pub args: Vec<String>,
}

/// A layer's output array inside the top function, partitioned into registers.
#[derive(Debug)]
pub struct Buffer {
    pub ty: String,
    pub name: String,
    pub len: usize,
}

/// One layer: its typedefs (defines.h), constants (parameters.h) and kernel call (top.cpp).
#[derive(Debug)]
pub struct LayerView {
    pub index: usize,
    pub kind: &'static str,
    /// The ONNX node name, safe inside a `//` comment.
    pub name: String,
    pub typedefs: Vec<Typedef>,
    pub arrays: Vec<CodeArray>,
    /// None for the layer computing the model's output, which writes `y` directly.
    pub buffer: Option<Buffer>,
    pub call: KernelCall,
}

/// The whole project as the templates see it.
#[derive(Debug)]
pub struct ProjectView {
    /// The model's name, safe inside a `//` comment.
    pub model_name: String,
    pub top: String,
    /// The include guard of `<top>.h`.
    pub top_guard: String,
    pub n_in: usize,
    pub n_out: usize,
    pub input_type: String,
    /// The output's type, or `input_t` when the output is the input.
    pub result_type: String,
    pub layers: Vec<LayerView>,
    /// The copy from `x` to `y` of a model without layers.
    pub passthrough: Option<KernelCall>,
    /// The top function's pragmas, after `#pragma `.
    pub pragmas: Vec<String>,
    /// The stages of a streamed project (`--io stream`); its layers are the stages'.
    pub stream: Option<crate::stream_view::StreamView>,
}

/// A name safe inside a `//` comment.
pub fn comment(name: &str) -> String {
    name.replace(['\n', '\r'], " ")
}

fn check_identifier(top: &str) -> Result<(), Error> {
    let ok = top.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && top.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Unsupported(format!("the top name '{top}' is not a C identifier")))
    }
}

/// The C++ type and array names of every value.
pub struct Names {
    pub types: Vec<String>,
    pub arrays: Vec<String>,
}

/// The layers, their streams (when streamed), the copy of a model without layers and the top
/// function's pragmas: what a project prints besides its ports.
struct Body {
    layers: Vec<LayerView>,
    stream: Option<crate::stream_view::StreamView>,
    passthrough: Option<KernelCall>,
    pragmas: Vec<String>,
}

/// A streamed project's body: the stages of the compiler's stream plan.
fn streamed(model: &QuantizedModel, options: &Options) -> Result<Body, Error> {
    let plan = balerc_compiler::stream::plan(model).map_err(|e| Error::Unsupported(e.to_string()))?;
    if options.reuse_factor != 1 {
        return Err(Error::Unsupported(
            "a streamed project shares its multipliers over the pixels already; leave out the reuse factor".into(),
        ));
    }
    let (stream, layers) = crate::stream_view::stream_view(model, &plan)?;
    Ok(Body { layers, stream: Some(stream), passthrough: None, pragmas: vec!["HLS DATAFLOW".into()] })
}

/// A parallel project's body: a kernel call per layer in one pipelined function.
fn parallel(model: &QuantizedModel, options: &Options) -> Result<Body, Error> {
    let names = Names::new(model);
    let layers = (0..model.layers.len()).map(|k| layer_view(model, &names, k)).collect::<Result<Vec<_>, _>>()?;
    if !layers.is_empty() && !model.layers.iter().any(|l| l.output == model.output) {
        return Err(Error::Unsupported("no layer computes the model's output".into()));
    }
    let passthrough = layers.is_empty().then(|| KernelCall {
        kernel: "copy",
        template_args: vec!["input_t".into(), "result_t".into(), "N_IN".into()],
        args: vec!["x".into(), "y".into()],
    });
    let reuse = options.reuse_factor;
    let mut pragmas = vec![format!("HLS PIPELINE II={reuse}")];
    if reuse > 1 {
        let multipliers = crate::reuse::multipliers_for(model, reuse)?;
        pragmas.push(format!("HLS ALLOCATION operation instances=mul limit={multipliers}"));
    }
    pragmas.push("HLS ARRAY_PARTITION variable=x complete".into());
    pragmas.push("HLS ARRAY_PARTITION variable=y complete".into());
    Ok(Body { layers, stream: None, passthrough, pragmas })
}

impl Names {
    fn new(model: &QuantizedModel) -> Self {
        let mut types = vec![String::new(); model.values.len()];
        let mut arrays = vec![String::new(); model.values.len()];
        for (k, layer) in model.layers.iter().enumerate() {
            types[layer.output] = format!("layer{k}_t");
            arrays[layer.output] = format!("layer{k}_out");
        }
        types[model.input] = "input_t".into();
        arrays[model.input] = "x".into();
        types[model.output] = "result_t".into();
        arrays[model.output] = "y".into();
        Names { types, arrays }
    }
}

/// Checks the model against what the kernels can build and computes every printed item.
pub fn project_view(model: &QuantizedModel, options: &Options) -> Result<ProjectView, Error> {
    check_identifier(&options.top)?;
    if model.input().is_empty() || model.output().is_empty() {
        return Err(Error::Unsupported("the model's input or output has no elements".into()));
    }
    let body = match options.io {
        balerc_compiler::stream::Io::Stream => streamed(model, options)?,
        balerc_compiler::stream::Io::Parallel => parallel(model, options)?,
    };
    let result_type = if model.output != model.input { model.output().ty.to_string() } else { "input_t".to_string() };
    Ok(ProjectView {
        model_name: comment(&model.name),
        top: options.top.clone(),
        top_guard: format!("{}_H_", options.top.to_uppercase()),
        n_in: model.input().len(),
        n_out: model.output().len(),
        input_type: model.input().ty.to_string(),
        result_type,
        layers: body.layers,
        passthrough: body.passthrough,
        pragmas: body.pragmas,
        stream: body.stream,
    })
}
