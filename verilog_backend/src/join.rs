//! Where two branches meet: the elementwise sum of a skip connection and the concatenation
//! of a U-Net skip. Their operands arrive in the same clock (the top module delays the
//! earlier branch), so both are combinational, like any element-wise layer.

use crate::layer::{convert, unpack, Context, Element};
use crate::tree::{sum, Term};
use crate::Error;
use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::model::{Layer, QuantizedModel};

/// The elements of every operand after the first, as wires `{prefix}_j{k}_x{i}`.
pub(crate) fn unpack_others(model: &QuantizedModel, layer: &Layer, cx: &mut Context) -> Vec<Vec<Element>> {
    layer.inputs[1..]
        .iter()
        .zip(&cx.inputs[1..])
        .enumerate()
        .map(|(k, (&value, vector))| {
            let v = &model.values[value];
            unpack(cx.body, vector, &format!("{}_j{}", cx.prefix, k + 1), v.ty, v.len())
        })
        .collect()
}

/// `y_i = cast(a_i + b_i)`: each operand shifted to the sum's fraction, one adder as wide as
/// the sum's range, then the cast to the result.
pub(crate) fn add(
    cx: &mut Context,
    a: &[Element],
    b: &[Element],
    sum_ty: FixedType,
    result: FixedType,
) -> Result<Vec<String>, Error> {
    let frac = sum_ty.frac_bits();
    let aligned = |x: &Element| {
        Term::wire(x.name.clone(), x.ty.width, x.ty.signed, x.range(), (frac - x.ty.frac_bits()) as u32, false)
    };
    let mut outs = Vec::with_capacity(a.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let prefix = format!("{}_o{i}", cx.prefix);
        let s = sum(cx.body, &prefix, vec![aligned(x), aligned(y)], cx.cost);
        outs.push(convert(cx, &s.name, s.width, true, frac, result, &prefix)?);
    }
    Ok(outs)
}

/// Every part's elements cast to the result, one part after another.
pub(crate) fn concat(cx: &mut Context, parts: &[Vec<Element>], result: FixedType) -> Result<Vec<String>, Error> {
    let mut outs = Vec::new();
    for x in parts.iter().flatten() {
        let prefix = format!("{}_o{}", cx.prefix, outs.len());
        outs.push(convert(cx, &x.name, x.ty.width, x.ty.signed, x.ty.frac_bits(), result, &prefix)?);
    }
    Ok(outs)
}
