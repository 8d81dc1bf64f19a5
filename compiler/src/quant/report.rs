//! The per-layer precision table: types chosen and the quantization error against the
//! floating-point model on the given data.

use super::config::{Origin, PrecisionConfig};
use super::lower::model_declares_types;
use super::model::{LayerOp, QuantizedModel};
use crate::ir::{Declared, Graph};
use crate::sim::{FloatProgram, Simulator};
use crate::Result;
use std::fmt;

pub struct LayerRow {
    pub name: String,
    pub kind: &'static str,
    pub weight: String,
    pub bias: String,
    pub accumulator: String,
    pub result: String,
    /// Where the types came from: the model's quantizers, the configuration, or the default.
    pub source: String,
    /// Largest and root-mean-square difference to the float model, when data was given.
    pub max_error: Option<f64>,
    pub rms_error: Option<f64>,
}

pub struct PrecisionReport {
    pub input: String,
    /// Where the input type came from.
    pub input_source: &'static str,
    pub rows: Vec<LayerRow>,
}

/// Builds the table; with data, also measures each layer's error against float. `config` is
/// the precision the model was lowered with, to tell where each type came from.
pub fn precision_report(
    graph: &Graph,
    model: &QuantizedModel,
    config: &PrecisionConfig,
    data: Option<&[f64]>,
) -> Result<PrecisionReport> {
    let errors = match data {
        Some(samples) => Some(layer_errors(graph, model, samples)?),
        None => None,
    };
    let rows = model
        .layers
        .iter()
        .enumerate()
        .map(|(k, layer)| {
            let linear = layer.op.linear();
            let (max_error, rms_error) = errors.as_ref().map_or((None, None), |e| (Some(e[k].0), Some(e[k].1)));
            LayerRow {
                name: layer.name.clone(),
                kind: layer.op.kind(),
                weight: linear.map_or("-".into(), |l| l.weight.ty.to_string()),
                bias: linear.map_or("-".into(), |l| l.bias.ty.to_string()),
                accumulator: linear
                    .map_or("-".into(), |l| format!("{}{}", l.accumulator, if l.exact { " (exact)" } else { "" })),
                result: model.values[layer.output].ty.to_string(),
                source: type_sources(graph, config, &layer.name, &layer.op),
                max_error,
                rms_error,
            }
        })
        .collect();
    let input_declared = graph.inputs().first().is_some_and(|&i| graph.node(i).declared.result.is_some());
    let input_source = match (input_declared, config.input.is_some()) {
        (true, _) => "model",
        (false, true) => "config",
        (false, false) => config.origin.label(),
    };
    Ok(PrecisionReport { input: model.input().ty.to_string(), input_source, rows })
}

/// Where a layer's types came from, e.g. `model` or `weight, bias: model; result: exact sum`.
fn type_sources(graph: &Graph, config: &PrecisionConfig, name: &str, op: &LayerOp) -> String {
    let declared = graph.find(name).map_or(Declared::default(), |id| graph.node(id).declared);
    let given = config.layer(name);
    let keeps_exact_sums = config.origin == Origin::BuiltIn && model_declares_types(graph);
    let roles: Vec<(&str, Option<_>, Option<_>)> = match op {
        LayerOp::Dense { .. } | LayerOp::Conv { .. } | LayerOp::Affine { .. } => vec![
            ("weight", declared.weight, given.weight),
            ("bias", declared.bias, given.bias),
            ("result", declared.result, given.result),
        ],
        _ => vec![("result", declared.result, given.result)],
    };
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (role, declared, given) in roles {
        let source = match (declared, given) {
            (Some(_), _) => "model",
            (None, Some(_)) => "config",
            (None, None) if role == "result" && keeps_exact_sums && op.linear().is_some() => "exact sum",
            (None, None) if role == "result" && matches!(op, LayerOp::Add { .. }) => "exact sum",
            (None, None) if role == "result" && matches!(op, LayerOp::Concat) => "common type of its parts",
            (None, None) => config.origin.label(),
        };
        match groups.iter_mut().find(|(s, _)| *s == source) {
            Some((_, roles)) => roles.push(role),
            None => groups.push((source, vec![role])),
        }
    }
    if let [(source, _)] = groups.as_slice() {
        return source.to_string();
    }
    groups.iter().map(|(source, roles)| format!("{}: {source}", roles.join(", "))).collect::<Vec<_>>().join("; ")
}

/// (max abs, rms) error of every layer's output against the float model.
fn layer_errors(graph: &Graph, model: &QuantizedModel, samples: &[f64]) -> Result<Vec<(f64, f64)>> {
    let float = FloatProgram::new(graph)?;
    let simulator = Simulator::new(model);
    let codes = simulator.quantize_input(samples)?;
    let fixed_values = simulator.run_chunk(&codes);
    let mut sums = vec![(0.0f64, 0.0f64, 0usize); model.layers.len()];
    for (s, sample) in samples.chunks_exact(float.input_len()).enumerate() {
        let trace = float.trace(sample);
        for (k, layer) in model.layers.iter().enumerate() {
            let Some(step) = float.step_of(&layer.name) else { continue };
            let value = &model.values[layer.output];
            let n = value.len();
            for (i, &exact) in trace[step].iter().enumerate() {
                let got = value.ty.to_f64(fixed_values[layer.output][s * n + i]);
                let e = (got - exact).abs();
                sums[k].0 = sums[k].0.max(e);
                sums[k].1 += e * e;
                sums[k].2 += 1;
            }
        }
    }
    Ok(sums.into_iter().map(|(max, sq, n)| (max, (sq / n.max(1) as f64).sqrt())).collect())
}

impl fmt::Display for PrecisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "input: {} (from {})", self.input, self.input_source)?;
        let header = ["layer", "op", "weight", "bias", "accumulator", "result", "types from", "max |err|", "rms err"];
        let cells: Vec<[String; 9]> = self
            .rows
            .iter()
            .map(|r| {
                let number = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3e}"));
                [
                    r.name.clone(),
                    r.kind.to_string(),
                    r.weight.clone(),
                    r.bias.clone(),
                    r.accumulator.clone(),
                    r.result.clone(),
                    r.source.clone(),
                    number(r.max_error),
                    number(r.rms_error),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| cells.iter().map(|row| row[c].len()).chain([header[c].len()]).max().unwrap_or(0))
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, row: &[&str]| {
            let padded: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            writeln!(f, "{}", padded.join("  ").trim_end())
        };
        line(f, &header)?;
        for row in &cells {
            line(f, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        Ok(())
    }
}
