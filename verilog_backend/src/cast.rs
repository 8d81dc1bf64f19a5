//! The `ap_fixed` conversion in hardware: one small module per distinct conversion,
//! printing exactly what `FixedType::cast` computes (quantize by the dropped bits,
//! then resolve overflow).

use crate::text::{fit, literal, range};
use crate::Error;
use balerc_compiler::fixed::{FixedType, Overflow, Quantization};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A conversion from a `width`-bit code with `frac` fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conversion {
    pub width: u32,
    pub signed: bool,
    pub frac: i32,
    pub target: (u32, i32, bool, u8, u8),
}

impl Conversion {
    pub fn new(width: u32, signed: bool, frac: i32, target: FixedType) -> Result<Self, Error> {
        if target.saturation_bits != 0 || (target.overflow == Overflow::WrapSm && target.signed) {
            return Err(Error::Unsupported(format!(
                "{target}: the Verilog backend implements AP_WRAP, AP_SAT, AP_SAT_ZERO and AP_SAT_SYM without saturation bits"
            )));
        }
        Ok(Conversion {
            width,
            signed,
            frac,
            target: (target.width, target.int_bits, target.signed, target.quantization as u8, target.overflow as u8),
        })
    }
}

/// The conversion modules of a design, each written once.
#[derive(Default)]
pub struct Conversions {
    prefix: String,
    modules: BTreeMap<Conversion, (String, FixedType)>,
}

impl Conversions {
    pub fn new(prefix: &str) -> Self {
        Conversions { prefix: prefix.to_string(), modules: BTreeMap::new() }
    }

    /// The module name for a conversion, registering it on first use.
    pub fn module(&mut self, conversion: Conversion, target: FixedType) -> String {
        let next = self.modules.len();
        let prefix = &self.prefix;
        self.modules.entry(conversion).or_insert_with(|| (format!("{prefix}_cast{next}"), target)).0.clone()
    }

    /// (module name, Verilog) of every conversion used, one module per file.
    pub fn modules(&self) -> Vec<(String, String)> {
        self.modules
            .iter()
            .map(|(conversion, (name, target))| (name.clone(), module(name, conversion, *target)))
            .collect()
    }
}

fn module(name: &str, c: &Conversion, t: FixedType) -> String {
    let (iw, ow) = (c.width, t.width);
    let shift = c.frac - t.frac_bits();
    let mut v = String::new();
    let source = format!("{}<{},{}>", if c.signed { "ap_fixed" } else { "ap_ufixed" }, iw, iw as i32 - c.frac);
    writeln!(v, "// {source} -> {t}").unwrap();
    writeln!(v, "module {name} (\n    input  wire {} x,\n    output wire {} y\n);", range(iw), range(ow)).unwrap();
    writeln!(v, "    /* verilator lint_off UNUSED */").unwrap();
    let neg = if c.signed { format!("x[{}]", iw - 1) } else { "1'b0".into() };
    // q: the quantized value as a signed number, wide enough to hold it exactly.
    let qw;
    if shift > 0 {
        let s = shift as u32;
        let floor_width = iw.saturating_sub(s).max(1);
        let floor = if s < iw { format!("x[{}:{}]", iw - 1, s) } else { neg.clone() };
        let qb = if s - 1 < iw { format!("x[{}]", s - 1) } else { neg.clone() };
        let sticky = if s >= 2 { format!("|x[{}:0]", (s - 2).min(iw - 1)) } else { "1'b0".into() };
        writeln!(v, "    wire {} floor_ = {floor};", range(floor_width)).unwrap();
        writeln!(v, "    wire neg = {neg};\n    wire qb = {qb};\n    wire sticky = {sticky};").unwrap();
        let up = match t.quantization {
            Quantization::Trn => "1'b0",
            Quantization::TrnZero => "neg & (qb | sticky)",
            Quantization::Rnd => "qb",
            Quantization::RndZero => "qb & (neg | sticky)",
            Quantization::RndMinInf => "qb & sticky",
            Quantization::RndInf => "qb & (~neg | sticky)",
            Quantization::RndConv => "qb & (floor_[0] | sticky)",
        };
        writeln!(v, "    wire up = {up};").unwrap();
        // One bit for the sign of an unsigned source, one for the rounding carry.
        qw = floor_width + u32::from(!c.signed) + 1;
        let floor_signed = if s < iw { c.signed } else { true };
        writeln!(
            v,
            "    wire {} q = {} + {};",
            range(qw),
            fit("floor_", floor_width, floor_signed, 0, qw),
            fit("up", 1, false, 0, qw)
        )
        .unwrap();
    } else {
        let left = (-shift) as u32;
        qw = iw + left + u32::from(!c.signed);
        writeln!(v, "    wire neg = {neg};").unwrap();
        writeln!(v, "    wire {} q = {};", range(qw), fit("x", iw, c.signed, left, qw)).unwrap();
    }
    let (max, min): (i128, i128) =
        if t.signed { ((1i128 << (ow - 1)) - 1, -(1i128 << (ow - 1))) } else { ((1i128 << ow) - 1, 0) };
    writeln!(v, "    wire {} wrapped = {};", range(ow), fit("q", qw, true, 0, ow)).unwrap();
    // Whether q lies above the largest or below the smallest code of the target. A
    // signed q fits a signed target when its bits from the top down to bit ow-1 agree.
    let (overflow, underflow) = match (t.signed, qw > ow) {
        (true, false) => ("1'b0".to_string(), "1'b0".to_string()),
        (true, true) => {
            let high = format!("q[{}:{}]", qw - 1, ow - 1);
            let fits = format!("(&{high} | ~|{high})");
            (format!("~q[{}] & ~{fits}", qw - 1), format!("q[{}] & ~{fits}", qw - 1))
        }
        (false, _) => {
            let over =
                if qw - 1 <= ow { "1'b0".to_string() } else { format!("~q[{}] & |q[{}:{}]", qw - 1, qw - 2, ow) };
            (over, format!("q[{}]", qw - 1))
        }
    };
    writeln!(v, "    wire overflow = {overflow};\n    wire underflow = {underflow};").unwrap();
    let symmetric = t.overflow == Overflow::SatSym && t.signed && ow > 1;
    let y = match t.overflow {
        Overflow::Wrap => "wrapped".to_string(),
        Overflow::SatZero => format!("(overflow | underflow) ? {} : wrapped", literal(0, ow)),
        _ if symmetric => format!(
            "overflow ? {} : (underflow | (wrapped == {})) ? {} : wrapped",
            literal(max, ow),
            literal(min, ow),
            literal(min + 1, ow)
        ),
        _ => format!("overflow ? {} : underflow ? {} : wrapped", literal(max, ow), literal(min, ow)),
    };
    writeln!(v, "    assign y = {y};").unwrap();
    writeln!(v, "    /* verilator lint_on UNUSED */\nendmodule\n").unwrap();
    v
}
