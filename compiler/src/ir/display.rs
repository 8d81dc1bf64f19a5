//! A readable listing of the IR, one node per line in topological order:
//! `%3 = dense "name" (%2) weight[20x16] |w|<=0.53 bias relu -> [20]`.

use super::{Conv, Graph, Op};
use std::collections::HashMap;
use std::fmt;

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "graph {}", self.name)?;
        let order = self.topological_order();
        let number: HashMap<_, _> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        for &id in &order {
            let node = self.node(id);
            let operands: Vec<String> = self.operands(id).iter().map(|o| format!("%{}", number[o])).collect();
            write!(f, "  %{} = {} \"{}\"", number[&id], node.op.kind(), node.name)?;
            if !operands.is_empty() {
                write!(f, " ({})", operands.join(", "))?;
            }
            write_attributes(f, &node.op)?;
            write!(f, " -> {}", shape(&node.shape))?;
            let declared = &node.declared;
            for (role, ty) in [("weight", declared.weight), ("bias", declared.bias), ("result", declared.result)] {
                if let Some(ty) = ty {
                    write!(f, " {role}:{ty}")?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn shape(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join("x"))
}

fn write_attributes(f: &mut fmt::Formatter<'_>, op: &Op) -> fmt::Result {
    match op {
        Op::Input { shape: s } => write!(f, " {}", shape(s)),
        Op::Constant(t) => write!(f, " {}", shape(&t.shape)),
        Op::Dense(d) => {
            write!(f, " weight{} |w|<={:.4}", shape(&d.weight.shape), d.weight.max_abs())?;
            if let Some(a) = d.activation {
                write!(f, " {a}")?;
            }
            Ok(())
        }
        Op::Conv(c) => write_conv(f, c),
        Op::Channelwise(c) => write!(f, " window={:?} stride={:?}", c.geometry.kernel, c.geometry.stride),
        Op::MaxPool(g) => write!(f, " window={:?} stride={:?} pad={:?}", g.kernel, g.stride, g.padding),
        Op::Pool(p) => {
            let g = &p.geometry;
            write!(f, " window={:?} stride={:?} pad={:?} ceil_mode={}", g.kernel, g.stride, g.padding, p.ceil_mode)
        }
        Op::BatchNorm(b) => write!(f, " channels={}", b.scale.len()),
        Op::Activation(a) => write!(f, " {a}"),
        Op::PRelu { slopes } => write!(f, " slopes={}", slopes.len()),
        Op::Reshape { shape: s } => write!(f, " to {s:?}"),
        Op::Flatten { axis } | Op::Concat { axis } => write!(f, " axis={axis}"),
        Op::Transpose { perm } => write!(f, " perm={perm:?}"),
        Op::Pad { pads } => write!(f, " pads={pads:?}"),
        Op::Quantize(ty) => write!(f, " to {ty}"),
        Op::Requantize(r) => write!(f, " by {} mantissas * 2^-{}", r.mantissas.len(), r.shift),
        Op::Output | Op::MatMul | Op::Add | Op::Identity | Op::Dropout => Ok(()),
    }
}

fn write_conv(f: &mut fmt::Formatter<'_>, c: &Conv) -> fmt::Result {
    let g = &c.geometry;
    write!(
        f,
        " weight{} |w|<={:.4} stride={:?} pad={:?}",
        shape(&c.weight.shape),
        c.weight.max_abs(),
        g.stride,
        g.padding
    )?;
    if g.dilation.iter().any(|&d| d != 1) {
        write!(f, " dilation={:?}", g.dilation)?;
    }
    if g.output_padding.iter().any(|&p| p != 0) {
        write!(f, " output_padding={:?}", g.output_padding)?;
    }
    if let Some(a) = c.activation {
        write!(f, " {a}")?;
    }
    Ok(())
}
