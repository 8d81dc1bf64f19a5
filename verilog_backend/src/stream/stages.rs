//! The Verilog of each streaming stage. Every stage talks valid/ready on both sides: a beat
//! moves where valid and ready are both high. A stage ends in one output register (its
//! result, held until taken), and it moves (takes input, advances its pipeline registers,
//! refills the output register) only in a clock where that register is empty or being
//! emptied. A chain of such stages cannot deadlock, whatever either end does. Ready runs
//! back through the chain combinationally: the price of needing no FIFO.
//!
//! Boundary b carries `b<b>_valid`, `b<b>_data` and `b<b>_ready`; stage k reads boundary k
//! and drives boundary k + 1.

use crate::cast::Conversions;
use crate::layer::{activate, emit, require_exact, Context};
use crate::text::{element, fit, literal, range};
use crate::tree::{Cost, Registers, Stages, Sum};
use crate::{Error, Options};
use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::model::{Layer, LayerOp, Linear, QuantizedModel};
use balerc_compiler::quant::range::Interval;
use balerc_compiler::stream::{beat_model, lags, window_model, Axis, Stage, StageKind, Stream, WindowKind};
use std::fmt::Write;

/// What the stages add up to.
#[derive(Default)]
pub struct Totals {
    pub cost: Cost,
    pub register_bits: u64,
    /// Bits of the line buffers and of the vectors held while they leave as pixels.
    pub buffer_bits: u64,
}

pub struct Writer<'a> {
    pub body: String,
    pub conversions: Conversions,
    pub totals: Totals,
    pub options: &'a Options,
}

/// Width of a counter over `n` values.
fn counter_bits(n: usize) -> u32 {
    (usize::BITS - (n.max(2) - 1).leading_zeros()).max(1)
}

impl Writer<'_> {
    /// Writes stage `k`; returns the register stages inside its arithmetic.
    pub fn stage(&mut self, model: &QuantizedModel, k: usize, stage: &Stage) -> Result<u32, Error> {
        let beat_bits = |s: &Stream| s.beat.channels as u32 * s.ty.width;
        let (in_bits, out_bits) = (beat_bits(&stage.input), beat_bits(&stage.output));
        let layer = stage.layer.map(|l| &model.layers[l]);
        let name = layer.map_or("serializer", |l| l.name.as_str());
        writeln!(
            self.body,
            "    // stage {k}: '{name}', beats of {} x {} -> {} x {}",
            stage.input.beat.channels, stage.input.ty, stage.output.beat.channels, stage.output.ty
        )
        .unwrap();
        let depth = match &stage.kind {
            StageKind::Map => {
                let layer = layer.expect("a map stage computes a layer");
                let (beat_model, beat_layer) = beat_model(model, layer, stage);
                let (y, depth) = self.pipelined(&beat_model, &beat_layer, k, &format!("b{k}_data"), out_bits)?;
                self.output_register(k, out_bits, &format!("b{k}_valid"), &y, depth);
                writeln!(self.body, "    assign b{k}_ready = s{k}_en;").unwrap();
                depth
            }
            StageKind::Window { axes, kind } => {
                let layer = layer.expect("a window stage computes a layer");
                self.window(model, layer, k, stage, axes, *kind, in_bits, out_bits)?
            }
            StageKind::PixelDense => {
                self.pixel_dense(layer.expect("a dense layer"), k, stage)?;
                0
            }
            StageKind::Serialize => {
                self.serialize(k, stage);
                0
            }
            StageKind::DenseToPixels => {
                self.dense_to_pixels(layer.expect("a dense layer"), k, stage)?;
                0
            }
        };
        writeln!(self.body).unwrap();
        Ok(depth)
    }

    /// Emits a layer from `input`, its adder trees pipelined as in a parallel design with
    /// registers that move only when the stage does; returns the wire of its result and
    /// the register stages inside.
    fn pipelined(
        &mut self,
        model: &QuantizedModel,
        layer: &Layer,
        k: usize,
        input: &str,
        out_bits: u32,
    ) -> Result<(String, u32), Error> {
        let y = format!("s{k}_y");
        writeln!(self.body, "    wire {} {y};", range(out_bits)).unwrap();
        let plan = crate::dsp_plan::plan(model, &[1], self.options.multipliers, self.options.dsp);
        let mut cx = Context {
            body: &mut self.body,
            conversions: &mut self.conversions,
            cost: &mut self.totals.cost,
            multipliers: self.options.multipliers,
            dsp: plan.layers.into_iter().next().unwrap_or_default(),
            stages: Stages { levels: self.options.adder_levels_per_stage },
            sharing_pairs: self.options.sharing_pairs,
            registers: Registers::enabled_by(format!("s{k}_en")),
            prefix: format!("s{k}"),
            inputs: vec![input.to_string()],
            output: y.clone(),
        };
        let depth = emit(model, layer, &mut cx)?;
        self.totals.register_bits += cx.registers.bits;
        Ok((y, depth))
    }

    /// The stage's valid pipeline and output register. `s<k>_en` says the stage moves this
    /// clock: its output register is empty or being taken. When it moves, `entering` (a
    /// result enters the stage's `depth` inner register stages) shifts along, and the
    /// output register loads `value` with the valid bit that reaches it.
    fn output_register(&mut self, k: usize, bits: u32, entering: &str, value: &str, depth: u32) {
        let next = k + 1;
        writeln!(
            self.body,
            "    reg s{k}_valid;\n    reg {r} s{k}_q;\n    wire s{k}_en = !s{k}_valid | b{next}_ready;",
            r = range(bits)
        )
        .unwrap();
        let arriving = if depth == 0 {
            entering.to_string()
        } else {
            let shifted =
                if depth == 1 { entering.to_string() } else { format!("{{s{k}_v[{}:0], {entering}}}", depth - 2) };
            writeln!(
                self.body,
                "    reg {} s{k}_v;\n    always @(posedge clk) if (rst) s{k}_v <= {}; else if (s{k}_en) s{k}_v <= {shifted};",
                range(depth),
                literal(0, depth)
            )
            .unwrap();
            self.totals.register_bits += depth as u64;
            if depth == 1 {
                format!("s{k}_v")
            } else {
                format!("s{k}_v[{}]", depth - 1)
            }
        };
        writeln!(
            self.body,
            "    always @(posedge clk) begin\n        if (rst) s{k}_valid <= 1'b0;\n        else if (s{k}_en) s{k}_valid <= {arriving};\n        \
             if (s{k}_en) s{k}_q <= {value};\n    end\n    assign b{next}_valid = s{k}_valid;\n    assign b{next}_data = s{k}_q;"
        )
        .unwrap();
        self.totals.register_bits += bits as u64 + 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn window(
        &mut self,
        model: &QuantizedModel,
        layer: &Layer,
        k: usize,
        stage: &Stage,
        axes: &[Axis],
        kind: WindowKind,
        in_bits: u32,
        out_bits: u32,
    ) -> Result<u32, Error> {
        let s = format!("s{k}");
        let ty = stage.input.ty;
        let channels = stage.input.beat.channels;
        // Position counters over the virtual grid, and which positions hold pixels and
        // which end a window.
        for (d, axis) in axes.iter().enumerate() {
            let bits = counter_bits(axis.length);
            let mask = |f: &dyn Fn(usize) -> bool| -> String {
                (0..axis.length).rev().map(|u| if f(u) { '1' } else { '0' }).collect()
            };
            writeln!(
                self.body,
                "    reg {} {s}_u{d};\n    wire {} {s}_pixels{d} = {len}'b{};\n    wire {} {s}_ends{d} = {len}'b{};",
                range(bits),
                range(axis.length as u32),
                mask(&|u| axis.is_input(u)),
                range(axis.length as u32),
                mask(&|u| axis.fires(u)),
                len = axis.length
            )
            .unwrap();
            self.totals.register_bits += bits as u64;
        }
        let all =
            |what: &str| (0..axes.len()).map(|d| format!("{s}_{what}{d}[{s}_u{d}]")).collect::<Vec<_>>().join(" & ");
        let fill = match kind {
            WindowKind::Conv => literal(0, in_bits),
            // The smallest code in every channel.
            WindowKind::Max => {
                let smallest = if ty.signed { 1i128 << (ty.width - 1) } else { 0 };
                format!("{{{channels}{{{}}}}}", literal(smallest, ty.width))
            }
        };
        writeln!(self.body, "    wire {s}_real = {};\n    wire {s}_fires = {};", all("pixels"), all("ends")).unwrap();
        let load = format!("{s}_advance & {s}_fires");
        let lags = lags(axes);
        let deepest = lags.iter().copied().max().unwrap_or(0);
        let kernel = lags.len();
        // The window: element c * taps + t is channel c of kernel tap t.
        let mut window = Vec::with_capacity(channels * kernel);
        for c in 0..channels {
            for &lag in &lags {
                window.push(if lag == 0 {
                    element(&format!("{s}_pixel"), c, ty.width)
                } else {
                    element(&format!("{s}_lb"), (lag - 1) * channels + c, ty.width)
                });
            }
        }
        let window_bits = window.len() as u32 * ty.width;
        writeln!(
            self.body,
            "    wire {} {s}_pixel;\n    wire {} {s}_window = {{{}}};",
            range(in_bits),
            range(window_bits),
            window.iter().rev().cloned().collect::<Vec<_>>().join(", ")
        )
        .unwrap();
        let (window_model, window_layer) = window_model(model, layer, stage, kernel, kind);
        let (y, depth) = self.pipelined(&window_model, &window_layer, k, &format!("{s}_window"), out_bits)?;
        self.output_register(k, out_bits, &load, &y, depth);
        writeln!(
            self.body,
            "    assign b{k}_ready = {s}_en & {s}_real;\n    wire {s}_advance = {s}_en & (!{s}_real | b{k}_valid);\n    \
             assign {s}_pixel = {s}_real ? b{k}_data : {fill};"
        )
        .unwrap();
        if deepest > 0 {
            let lb_bits = deepest as u32 * in_bits;
            let shifted = if deepest == 1 {
                format!("{s}_pixel")
            } else {
                format!("{{{s}_lb[{}:0], {s}_pixel}}", lb_bits - in_bits - 1)
            };
            writeln!(
                self.body,
                "    // Line buffer: the {deepest} pixels before this one, the newest lowest.\n    reg {} {s}_lb;\n    \
                 always @(posedge clk) if ({s}_advance) {s}_lb <= {shifted};",
                range(lb_bits)
            )
            .unwrap();
            self.totals.buffer_bits += lb_bits as u64;
            // Pixels between taps only shift: synthesis keeps them in shift-register LUTs
            // (32 positions a LUT), the tapped ones in flip-flops.
            let (shifted, luts) = shift_register_runs(&lags, in_bits);
            self.totals.register_bits += lb_bits as u64 - shifted;
            self.totals.cost.mux_luts += luts;
        }
        writeln!(
            self.body,
            "    always @(posedge clk) begin\n        if (rst) begin\n{}        end else if ({s}_advance) begin\n{}        end\n    end",
            (0..axes.len())
                .map(|d| format!("            {s}_u{d} <= {};\n", literal(0, counter_bits(axes[d].length))))
                .collect::<String>(),
            raster_step(&s, axes, axes.len() - 1, 3)
        )
        .unwrap();
        Ok(depth)
    }

    /// A dense layer over pixels: each pixel's products join the accumulators as it comes;
    /// after the frame's last pixel, the bias, activation and cast give the vector.
    fn pixel_dense(&mut self, layer: &Layer, k: usize, stage: &Stage) -> Result<(), Error> {
        let LayerOp::Dense { linear, inputs } = &layer.op else { unreachable!("planned for dense layers") };
        require_exact(linear, &layer.name)?;
        let s = format!("s{k}");
        let x_ty = stage.input.ty;
        let (channels, pixels) = (stage.input.beat.channels, stage.input.beat.per_frame());
        let outputs = linear.bias.codes.len();
        let w_ty = linear.weight.ty;
        let result = stage.output.ty;
        let weight = |o: usize, c: usize, p: usize| linear.weight.codes[o * inputs + c * pixels + p];
        let acc_frac = linear.accumulator.frac_bits();
        let up = (acc_frac - x_ty.frac_bits() - w_ty.frac_bits()) as u32;
        let bias_up = (acc_frac - linear.bias.ty.frac_bits()) as u32;
        let pixel_bits = counter_bits(pixels);
        // One table row per pixel: the weight of (output o, channel c) at element o * C + c.
        let row_bits = (outputs * channels) as u32 * w_ty.width;
        writeln!(
            self.body,
            "    reg {} {s}_p;\n    reg {} {s}_weights [0:{}];\n    initial begin",
            range(pixel_bits),
            range(row_bits),
            pixels - 1
        )
        .unwrap();
        for p in 0..pixels {
            let codes: Vec<i64> =
                (0..outputs).flat_map(|o| (0..channels).map(move |c| (o, c))).map(|(o, c)| weight(o, c, p)).collect();
            writeln!(self.body, "        {s}_weights[{p}] = {row_bits}'h{};", hex(&codes, w_ty.width)).unwrap();
        }
        writeln!(self.body, "    end\n    wire {} {s}_w = {s}_weights[{s}_p];", range(row_bits)).unwrap();
        self.totals.cost.mux_luts += row_bits as u64 * crate::fold::table_luts(pixel_bits);
        writeln!(
            self.body,
            "    wire {s}_last = {s}_p == {};\n    wire {s}_take = b{k}_valid & b{k}_ready;",
            literal(pixels as i128 - 1, pixel_bits)
        )
        .unwrap();
        let product_bits = x_ty.width + w_ty.width + 1;
        let mut ys = Vec::with_capacity(outputs);
        for o in 0..outputs {
            let bias = (linear.bias.codes[o] as i128) << bias_up;
            let exact = (0..channels)
                .flat_map(|c| (0..pixels).map(move |p| (c, p)))
                .fold(Interval { lo: bias, hi: bias }, |sum, (c, p)| {
                    sum.plus(Interval::of_type(x_ty).scale(weight(o, c, p)).shifted(up))
                });
            // The accumulator wraps modulo 2^A; A bits hold every value the whole sum can take,
            // so the last sum is exact.
            let a = exact.signed_bits();
            let mut terms = vec![format!("{s}_o{o}_acc")];
            for c in 0..channels {
                let (x, w) = (format!("{s}_x{c}"), format!("{s}_o{o}_w{c}"));
                if o == 0 {
                    writeln!(
                        self.body,
                        "    wire {} {x} = {};",
                        range(x_ty.width),
                        element(&format!("b{k}_data"), c, x_ty.width)
                    )
                    .unwrap();
                }
                writeln!(
                    self.body,
                    "    wire {} {w} = {};",
                    range(w_ty.width),
                    element(&format!("{s}_w"), o * channels + c, w_ty.width)
                )
                .unwrap();
                let product = format!("{s}_o{o}_p{c}");
                writeln!(
                    self.body,
                    "    wire {} {product} = $signed({}) * $signed({});",
                    range(product_bits),
                    fit(&x, x_ty.width, x_ty.signed, 0, product_bits),
                    fit(&w, w_ty.width, w_ty.signed, 0, product_bits)
                )
                .unwrap();
                terms.push(fit(&product, product_bits, true, up, a));
            }
            writeln!(
                self.body,
                "    reg {r} {s}_o{o}_acc;\n    wire {r} {s}_o{o}_sum = {};\n    wire {r} {s}_o{o}_total = {s}_o{o}_sum + {};\n    \
                 always @(posedge clk) if (rst) {s}_o{o}_acc <= {zero}; else if ({s}_take) {s}_o{o}_acc <= {s}_last ? {zero} : {s}_o{o}_sum;",
                terms.join(" + "),
                literal(bias, a),
                r = range(a),
                zero = literal(0, a),
            )
            .unwrap();
            self.totals.cost.dsp_products += channels as u64;
            self.totals.cost.adders += channels as u64 + 1;
            self.totals.cost.adder_bits += (channels as u64 + 1) * a as u64;
            self.totals.register_bits += a as u64;
            let sum = Sum { name: format!("{s}_o{o}_total"), width: a, range: exact };
            ys.push(self.activated(linear, &sum, result, &format!("{s}_o{o}"))?);
        }
        let out_bits = self.pack(&format!("{s}_y"), &ys, result.width);
        self.output_register(k, out_bits, &format!("{s}_take & {s}_last"), &format!("{s}_y"), 0);
        // Only the frame's last pixel needs room in the output register.
        writeln!(
            self.body,
            "    assign b{k}_ready = !{s}_last | {s}_en;\n    always @(posedge clk) if (rst) {s}_p <= {}; else if ({s}_take) {s}_p <= {s}_last ? {} : {s}_p + {};",
            literal(0, pixel_bits),
            literal(0, pixel_bits),
            literal(1, pixel_bits)
        )
        .unwrap();
        self.totals.register_bits += pixel_bits as u64;
        Ok(())
    }

    /// A dense layer computing an image a pixel at a time: it holds its input vector, and for
    /// pixel p every channel c sums the vector times the weights of output c * P + p, read
    /// from a table row per pixel, with that output's bias.
    fn dense_to_pixels(&mut self, layer: &Layer, k: usize, stage: &Stage) -> Result<(), Error> {
        let LayerOp::Dense { linear, inputs } = &layer.op else { unreachable!("planned for dense layers") };
        require_exact(linear, &layer.name)?;
        let s = format!("s{k}");
        let x_ty = stage.input.ty;
        let (channels, pixels) = (stage.output.beat.channels, stage.output.beat.per_frame());
        let (w_ty, b_ty) = (linear.weight.ty, linear.bias.ty);
        let result = stage.output.ty;
        let weight = |c: usize, p: usize, i: usize| linear.weight.codes[(c * pixels + p) * inputs + i];
        let acc_frac = linear.accumulator.frac_bits();
        let up = (acc_frac - x_ty.frac_bits() - w_ty.frac_bits()) as u32;
        let bias_up = (acc_frac - b_ty.frac_bits()) as u32;
        let pixel_bits = counter_bits(pixels);
        let in_bits = *inputs as u32 * x_ty.width;
        // One table row per pixel: the weight of (channel c, input i) at element c * inputs + i,
        // then each channel's bias.
        let weight_bits = (channels * inputs) as u32 * w_ty.width;
        let row_bits = weight_bits + channels as u32 * b_ty.width;
        writeln!(
            self.body,
            "    reg {} {s}_hold;\n    reg {s}_busy;\n    reg {} {s}_p;\n    reg {} {s}_table [0:{}];\n    initial begin",
            range(in_bits),
            range(pixel_bits),
            range(row_bits),
            pixels - 1
        )
        .unwrap();
        for p in 0..pixels {
            let weights: Vec<i64> =
                (0..channels).flat_map(|c| (0..*inputs).map(move |i| (c, i))).map(|(c, i)| weight(c, p, i)).collect();
            let biases: Vec<i64> = (0..channels).map(|c| linear.bias.codes[c * pixels + p]).collect();
            writeln!(
                self.body,
                "        {s}_table[{p}] = {{{}'h{}, {}'h{}}};",
                channels as u32 * b_ty.width,
                hex(&biases, b_ty.width),
                weight_bits,
                hex(&weights, w_ty.width)
            )
            .unwrap();
        }
        writeln!(self.body, "    end\n    wire {} {s}_row = {s}_table[{s}_p];", range(row_bits)).unwrap();
        self.totals.cost.mux_luts += row_bits as u64 * crate::fold::table_luts(pixel_bits);
        self.totals.buffer_bits += in_bits as u64;
        self.totals.register_bits += in_bits as u64 + pixel_bits as u64 + 1;
        for i in 0..*inputs {
            writeln!(
                self.body,
                "    wire {} {s}_x{i} = {};",
                range(x_ty.width),
                element(&format!("{s}_hold"), i, x_ty.width)
            )
            .unwrap();
        }
        let product_bits = x_ty.width + w_ty.width + 1;
        let mut ys = Vec::with_capacity(channels);
        for c in 0..channels {
            let exact = (0..pixels)
                .map(|p| {
                    let bias = (linear.bias.codes[c * pixels + p] as i128) << bias_up;
                    (0..*inputs).fold(Interval { lo: bias, hi: bias }, |sum, i| {
                        sum.plus(Interval::of_type(x_ty).scale(weight(c, p, i)).shifted(up))
                    })
                })
                .reduce(Interval::hull)
                .expect("an image has pixels");
            // Every pixel's sum fits A bits, so sums modulo 2^A are exact.
            let a = exact.signed_bits();
            let bias = format!("{s}_c{c}_b");
            let low = weight_bits + c as u32 * b_ty.width;
            writeln!(self.body, "    wire {} {bias} = {s}_row[{}:{low}];", range(b_ty.width), low + b_ty.width - 1)
                .unwrap();
            let mut terms = vec![fit(&bias, b_ty.width, b_ty.signed, bias_up, a)];
            for i in 0..*inputs {
                let w = format!("{s}_c{c}_w{i}");
                writeln!(
                    self.body,
                    "    wire {} {w} = {};",
                    range(w_ty.width),
                    element(&format!("{s}_row"), c * inputs + i, w_ty.width)
                )
                .unwrap();
                let product = format!("{s}_c{c}_p{i}");
                writeln!(
                    self.body,
                    "    wire {} {product} = $signed({}) * $signed({});",
                    range(product_bits),
                    fit(&format!("{s}_x{i}"), x_ty.width, x_ty.signed, 0, product_bits),
                    fit(&w, w_ty.width, w_ty.signed, 0, product_bits)
                )
                .unwrap();
                terms.push(fit(&product, product_bits, true, up, a));
            }
            writeln!(self.body, "    wire {} {s}_c{c}_sum = {};", range(a), terms.join(" + ")).unwrap();
            self.totals.cost.dsp_products += *inputs as u64;
            self.totals.cost.adders += *inputs as u64;
            self.totals.cost.adder_bits += *inputs as u64 * a as u64;
            let sum = Sum { name: format!("{s}_c{c}_sum"), width: a, range: exact };
            ys.push(self.activated(linear, &sum, result, &format!("{s}_c{c}"))?);
        }
        let out_bits = self.pack(&format!("{s}_y"), &ys, result.width);
        self.output_register(k, out_bits, &format!("{s}_busy"), &format!("{s}_y"), 0);
        writeln!(
            self.body,
            "    wire {s}_take = b{k}_valid & !{s}_busy;\n    assign b{k}_ready = !{s}_busy;\n    always @(posedge clk) begin\n        \
             if (rst) {s}_busy <= 1'b0;\n        else if ({s}_take) {s}_busy <= 1'b1;\n        \
             else if ({s}_busy & {s}_en & {s}_p == {last}) {s}_busy <= 1'b0;\n        \
             if ({s}_take) begin\n            {s}_hold <= b{k}_data;\n            {s}_p <= {zero};\n        end\n        \
             else if ({s}_busy & {s}_en) {s}_p <= {s}_p + {one};\n    end",
            last = literal(pixels as i128 - 1, pixel_bits),
            zero = literal(0, pixel_bits),
            one = literal(1, pixel_bits),
        )
        .unwrap();
        Ok(())
    }

    /// A linear layer's fused activation and cast on an exact sum, as a parallel design
    /// writes them; returns the result's wire.
    fn activated(&mut self, linear: &Linear, sum: &Sum, result: FixedType, prefix: &str) -> Result<String, Error> {
        let mut cx = Context {
            body: &mut self.body,
            conversions: &mut self.conversions,
            cost: &mut self.totals.cost,
            multipliers: self.options.multipliers,
            dsp: Vec::new(),
            stages: Stages { levels: None },
            sharing_pairs: self.options.sharing_pairs,
            registers: Registers::default(),
            prefix: prefix.to_string(),
            inputs: Vec::new(),
            output: String::new(),
        };
        activate(&mut cx, linear, sum, result, prefix)
    }

    /// `wire <name>` packing `elements` of `width` bits, element 0 lowest; returns its width.
    fn pack(&mut self, name: &str, elements: &[String], width: u32) -> u32 {
        let bits = elements.len() as u32 * width;
        let packed: Vec<&str> = elements.iter().rev().map(String::as_str).collect();
        writeln!(self.body, "    wire {} {name} = {{{}}};", range(bits), packed.join(", ")).unwrap();
        bits
    }

    /// A vector held while its pixels leave, one per beat: each channel's part of the vector
    /// shifts down by one element per pixel sent, so pixel p is always the lowest elements.
    fn serialize(&mut self, k: usize, stage: &Stage) {
        let s = format!("s{k}");
        let next = k + 1;
        let w = stage.output.ty.width;
        let (channels, pixels) = (stage.output.beat.channels, stage.output.beat.per_frame());
        let bits = (channels * pixels) as u32 * w;
        let pixel_bits = counter_bits(pixels);
        let segment = pixels as u32 * w;
        let lowest: Vec<String> = (0..channels).rev().map(|c| element(&format!("{s}_hold"), c * pixels, w)).collect();
        let shifted: Vec<String> = (0..channels)
            .rev()
            .map(|c| {
                let base = c as u32 * segment;
                format!("{w}'d0, {s}_hold[{}:{}]", base + segment - 1, base + w)
            })
            .collect();
        writeln!(
            self.body,
            "    reg {} {s}_hold;\n    reg {} {s}_p;\n    reg {s}_busy;\n    wire {s}_take = b{k}_valid & !{s}_busy;\n    \
             wire {s}_send = {s}_busy & b{next}_ready;\n    assign b{k}_ready = !{s}_busy;\n    assign b{next}_valid = {s}_busy;\n    \
             assign b{next}_data = {{{}}};\n    always @(posedge clk) begin\n        if (rst) {s}_busy <= 1'b0;\n        \
             else if ({s}_take) {s}_busy <= 1'b1;\n        else if ({s}_send & {s}_p == {}) {s}_busy <= 1'b0;\n        \
             if ({s}_take) {s}_p <= {};\n        else if ({s}_send) {s}_p <= {s}_p + {};\n        \
             if ({s}_take) {s}_hold <= b{k}_data;\n        else if ({s}_send) {s}_hold <= {{{}}};\n    end",
            range(bits),
            range(pixel_bits),
            lowest.join(", "),
            literal(pixels as i128 - 1, pixel_bits),
            literal(0, pixel_bits),
            literal(1, pixel_bits),
            shifted.join(", ")
        )
        .unwrap();
        self.totals.buffer_bits += bits as u64;
        self.totals.register_bits += (bits + pixel_bits + 1) as u64;
    }
}

/// The line-buffer bits that sit between taps (positions no window reads, which only
/// shift), and the shift-register LUTs that hold them: one per bit per 32 positions of each
/// run.
fn shift_register_runs(lags: &[usize], pixel_bits: u32) -> (u64, u64) {
    let mut tapped: Vec<usize> = lags.to_vec();
    tapped.sort_unstable();
    tapped.dedup();
    let (mut bits, mut luts) = (0u64, 0u64);
    for pair in tapped.windows(2) {
        let run = (pair[1] - pair[0] - 1) as u64;
        bits += run * pixel_bits as u64;
        luts += run.div_ceil(32) * pixel_bits as u64;
    }
    (bits, luts)
}

/// Packed codes as hex, element i at bits [i*W+W-1 : i*W].
fn hex(codes: &[i64], width: u32) -> String {
    let bits = codes.len() * width as usize;
    let mut digits = vec![0u8; bits.div_ceil(4)];
    for (i, &c) in codes.iter().enumerate() {
        for b in 0..width as usize {
            if (c >> b) & 1 == 1 {
                let at = i * width as usize + b;
                digits[at / 4] |= 1 << (at % 4);
            }
        }
    }
    digits.iter().rev().map(|&d| char::from_digit(d as u32, 16).expect("a nibble")).collect()
}

/// The counter update of dimension `d` and, when it wraps, of the ones before it.
fn raster_step(s: &str, axes: &[Axis], d: usize, indent: usize) -> String {
    let pad = "    ".repeat(indent);
    let bits = counter_bits(axes[d].length);
    let last = literal(axes[d].length as i128 - 1, bits);
    let wrap = if d == 0 { String::new() } else { raster_step(s, axes, d - 1, indent + 1) };
    format!(
        "{pad}if ({s}_u{d} == {last}) begin\n{pad}    {s}_u{d} <= {};\n{wrap}{pad}end else {s}_u{d} <= {s}_u{d} + {};\n",
        literal(0, bits),
        literal(1, bits)
    )
}
