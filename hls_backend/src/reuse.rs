//! The reuse factor: how many clock cycles each multiplier is shared over. A factor is
//! legal when it divides the multiplication count of every linear layer, so that each
//! multiplier does the same number of products; anything else is refused with the legal
//! values listed, rather than silently changed.

use crate::Error;
use balerc_compiler::quant::model::LayerOp;
use balerc_compiler::quant::QuantizedModel;

/// Multiplications per sample of each linear layer.
fn multiplications(model: &QuantizedModel) -> Vec<usize> {
    model
        .layers
        .iter()
        .filter_map(|layer| match &layer.op {
            LayerOp::Dense { linear, .. } => Some(linear.weight.codes.len()),
            LayerOp::Conv { taps, .. } => Some(taps.entries.len()),
            _ => None,
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Every legal reuse factor of a model, ascending.
pub fn legal_reuse_factors(model: &QuantizedModel) -> Vec<u32> {
    let common = multiplications(model).into_iter().fold(0, gcd).max(1);
    (1..=common).filter(|r| common.is_multiple_of(*r)).map(|r| r as u32).collect()
}

/// Checks a reuse factor; returns the number of multipliers the design may use.
pub fn multipliers_for(model: &QuantizedModel, reuse: u32) -> Result<usize, Error> {
    let legal = legal_reuse_factors(model);
    if !legal.contains(&reuse) {
        let list: Vec<String> = legal.iter().map(u32::to_string).collect();
        return Err(Error::Unsupported(format!(
            "reuse factor {reuse} does not divide the multiplications of every layer ({:?}); legal values: {}",
            multiplications(model),
            list.join(", ")
        )));
    }
    Ok(multiplications(model).iter().sum::<usize>() / reuse as usize)
}
