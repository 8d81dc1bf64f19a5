//! Reuse factors: over how many clocks a linear layer shares its products. A layer with
//! factor R takes its products R at a time in turn (a new sample every R clocks), so R may
//! be anything from 1 up to the products of its longest output: beyond that some clocks
//! would have no product to compute. An illegal factor is refused with the legal ones.

use crate::Error;
use balerc_compiler::quant::model::{Layer, LayerOp};
use balerc_compiler::quant::QuantizedModel;
use std::collections::BTreeMap;

/// The reuse factors a design is built with: one for every linear layer, and overrides
/// by layer name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReuseFactors {
    pub default: u32,
    pub layers: BTreeMap<String, u32>,
}

impl Default for ReuseFactors {
    fn default() -> Self {
        ReuseFactors { default: 1, layers: BTreeMap::new() }
    }
}

impl ReuseFactors {
    /// The same factor for every linear layer.
    pub fn uniform(reuse: u32) -> Self {
        ReuseFactors { default: reuse, layers: BTreeMap::new() }
    }
}

/// Products of the longest output of a dense or conv layer; None for other layers.
fn products_per_output(layer: &Layer) -> Option<usize> {
    match &layer.op {
        LayerOp::Dense { inputs, .. } => Some(*inputs),
        LayerOp::Conv { taps, .. } => Some((0..taps.outputs()).map(|o| taps.of(o).len()).max().unwrap_or(0)),
        _ => None,
    }
}

/// The reuse factors the model's every linear layer can take, ascending.
pub fn legal_reuse_factors(model: &QuantizedModel) -> Vec<u32> {
    let most = model.layers.iter().filter_map(products_per_output).min().unwrap_or(1).max(1);
    (1..=most as u32).collect()
}

fn listed(most: usize) -> String {
    (1..=most.max(1)).map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
}

/// The reuse factor of every layer of the model (1 for layers without products), checked.
pub fn resolve(model: &QuantizedModel, factors: &ReuseFactors) -> Result<Vec<u32>, Error> {
    let linear: Vec<&str> =
        model.layers.iter().filter(|l| products_per_output(l).is_some()).map(|l| l.name.as_str()).collect();
    if let Some(name) = factors.layers.keys().find(|name| !linear.contains(&name.as_str())) {
        return Err(Error::UnknownReuseLayer { layer: name.clone(), linear: linear.join(", ") });
    }
    if factors.default == 0 || factors.layers.values().any(|&r| r == 0) {
        return Err(Error::IllegalReuseFactor {
            reuse: 0,
            reason: "a layer needs at least one clock".into(),
            legal: listed(legal_reuse_factors(model).len()),
        });
    }
    model
        .layers
        .iter()
        .map(|layer| {
            let Some(products) = products_per_output(layer) else { return Ok(1) };
            let (reuse, chosen_for_layer) = match factors.layers.get(&layer.name) {
                Some(&r) => (r, true),
                None => (factors.default, false),
            };
            if reuse as usize <= products.max(1) {
                return Ok(reuse);
            }
            let (reason, legal) = if chosen_for_layer {
                (
                    format!(
                        "layer '{}': its outputs have at most {products} products each, so only {products} clocks can share them",
                        layer.name
                    ),
                    listed(products),
                )
            } else {
                // The layers that take the model-wide factor bound it.
                let most = model
                    .layers
                    .iter()
                    .filter(|l| !factors.layers.contains_key(&l.name))
                    .filter_map(products_per_output)
                    .min()
                    .unwrap_or(1);
                (
                    format!(
                        "this model: layer '{}' has at most {products} products per output, so only {products} clocks can share them",
                        layer.name
                    ),
                    listed(most),
                )
            };
            Err(Error::IllegalReuseFactor { reuse, reason, legal })
        })
        .collect()
}
