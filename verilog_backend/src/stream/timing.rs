//! The stages' handshakes clock by clock, without data: from them, the cycles from a frame's
//! first input beat to its last output beat, and the clocks between frames once the stream
//! runs steadily, with input always offered and output always taken. The model follows
//! the Verilog of `stages.rs` signal for signal; the co-simulation tests compare the two.

use balerc_compiler::stream::{Stage, StageKind};

/// One stage's control state. `valid` is the valid pipeline: one bit per inner register
/// stage, the last the output register's.
enum Control {
    Map {
        valid: Vec<bool>,
    },
    /// Window: the virtual position (row-major over the grid), which positions are pixels
    /// and which end a window.
    Window {
        valid: Vec<bool>,
        position: usize,
        pixels: Vec<bool>,
        ends: Vec<bool>,
    },
    /// Pixel dense: the pixel index and the output register.
    PixelDense {
        valid: bool,
        pixel: usize,
        pixels: usize,
    },
    /// Serializer: busy while pixels leave.
    Serialize {
        busy: bool,
        pixel: usize,
        pixels: usize,
    },
    /// Dense to pixels: busy while pixels are computed into the output register.
    DenseToPixels {
        busy: bool,
        valid: bool,
        pixel: usize,
        pixels: usize,
    },
}

/// Shifts `entering` into a valid pipeline.
fn shift(valid: &mut [bool], entering: bool) {
    valid.rotate_right(1);
    valid[0] = entering;
}

impl Control {
    /// The control of `stage`, with `depth` register stages inside its arithmetic.
    fn new(stage: &Stage, depth: u32) -> Self {
        let pipeline = vec![false; depth as usize + 1];
        match &stage.kind {
            StageKind::Map => Control::Map { valid: pipeline },
            StageKind::Window { axes, .. } => {
                let lengths: Vec<usize> = axes.iter().map(|a| a.length).collect();
                let total: usize = lengths.iter().product();
                let each = |f: &dyn Fn(usize, usize) -> bool| -> Vec<bool> {
                    (0..total)
                        .map(|flat| {
                            let mut rest = flat;
                            (0..axes.len()).rev().all(|d| {
                                let u = rest % lengths[d];
                                rest /= lengths[d];
                                f(d, u)
                            })
                        })
                        .collect()
                };
                Control::Window {
                    valid: pipeline,
                    position: 0,
                    pixels: each(&|d, u| axes[d].is_input(u)),
                    ends: each(&|d, u| axes[d].fires(u)),
                }
            }
            StageKind::PixelDense => {
                Control::PixelDense { valid: false, pixel: 0, pixels: stage.input.beat.per_frame() }
            }
            StageKind::Serialize => Control::Serialize { busy: false, pixel: 0, pixels: stage.output.beat.per_frame() },
            StageKind::DenseToPixels => {
                Control::DenseToPixels { busy: false, valid: false, pixel: 0, pixels: stage.output.beat.per_frame() }
            }
        }
    }

    fn out_valid(&self) -> bool {
        match self {
            Control::Map { valid } | Control::Window { valid, .. } => *valid.last().expect("an output register"),
            Control::PixelDense { valid, .. } | Control::DenseToPixels { valid, .. } => *valid,
            Control::Serialize { busy, .. } => *busy,
        }
    }

    /// Whether the stage moves this clock: its output register is empty or being taken.
    fn moves(&self, out_ready: bool) -> bool {
        !self.out_valid() || out_ready
    }

    /// in_ready, given the next stage's ready.
    fn in_ready(&self, out_ready: bool) -> bool {
        let moves = self.moves(out_ready);
        match self {
            Control::Map { .. } => moves,
            Control::Window { position, pixels, .. } => moves && pixels[*position],
            Control::PixelDense { pixel, pixels, .. } => *pixel != pixels - 1 || moves,
            Control::Serialize { busy, .. } | Control::DenseToPixels { busy, .. } => !busy,
        }
    }

    /// One clock edge.
    fn step(&mut self, in_valid: bool, out_ready: bool) {
        let moves = self.moves(out_ready);
        match self {
            Control::Map { valid } => {
                if moves {
                    shift(valid, in_valid);
                }
            }
            Control::Window { valid, position, pixels, ends } => {
                let advance = moves && (!pixels[*position] || in_valid);
                if moves {
                    shift(valid, advance && ends[*position]);
                }
                if advance {
                    *position = (*position + 1) % pixels.len();
                }
            }
            Control::PixelDense { valid, pixel, pixels } => {
                let last = *pixel == *pixels - 1;
                let take = in_valid && (!last || moves);
                if moves {
                    *valid = take && last;
                }
                if take {
                    *pixel = if last { 0 } else { *pixel + 1 };
                }
            }
            Control::DenseToPixels { busy, valid, pixel, pixels } => {
                if moves {
                    *valid = *busy;
                }
                if in_valid && !*busy {
                    *busy = true;
                    *pixel = 0;
                } else if *busy && moves {
                    if *pixel == *pixels - 1 {
                        *busy = false;
                    } else {
                        *pixel += 1;
                    }
                }
            }
            Control::Serialize { busy, pixel, pixels } => {
                if in_valid && !*busy {
                    *busy = true;
                    *pixel = 0;
                } else if *busy && out_ready {
                    if *pixel == *pixels - 1 {
                        *busy = false;
                    } else {
                        *pixel += 1;
                    }
                }
            }
        }
    }
}

/// What the handshakes give when nothing waits at either end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Cycles from the clock the first input beat enters to the clock the first frame's
    /// last output beat leaves (both counted from 0: 0 means in the same clock).
    pub latency: usize,
    /// Clocks between the last output beats of consecutive frames, running steadily.
    pub cycles_per_frame: usize,
    /// The cycle each output beat of the first frames left in, counted from the first clock
    /// input was offered, for checking simulators.
    pub output_cycles: Vec<usize>,
}

/// Runs `frames` frames through the stages (`depths`: the register stages inside each
/// one's arithmetic), input offered every clock, output always taken.
pub fn simulate(stages: &[Stage], depths: &[u32], in_beats: usize, out_beats: usize, frames: usize) -> Timing {
    let mut controls: Vec<Control> = stages.iter().zip(depths).map(|(s, &d)| Control::new(s, d)).collect();
    let mut sent = 0;
    let mut first_entered = None;
    let mut output_cycles = Vec::new();
    let mut cycle = 0;
    let limit = 64
        + frames * (in_beats + out_beats + 16) * 16 * (stages.len() + 1)
        + frames * stages.iter().map(Stage::clocks_per_frame).sum::<usize>() * 2;
    while output_cycles.len() < frames * out_beats && cycle < limit {
        // Ready flows back from the output, always ready.
        let mut ready = vec![false; controls.len() + 1];
        ready[controls.len()] = true;
        for k in (0..controls.len()).rev() {
            ready[k] = controls[k].in_ready(ready[k + 1]);
        }
        let offered = sent < frames * in_beats;
        if offered && ready[0] {
            sent += 1;
            first_entered.get_or_insert(cycle);
        }
        if controls.last().expect("a stage").out_valid() {
            output_cycles.push(cycle);
        }
        let valids: Vec<bool> = std::iter::once(offered).chain(controls.iter().map(Control::out_valid)).collect();
        for (k, control) in controls.iter_mut().enumerate() {
            control.step(valids[k], ready[k + 1]);
        }
        cycle += 1;
    }
    assert_eq!(output_cycles.len(), frames * out_beats, "the stream stalled: a stage lost a beat");
    let last_of = |frame: usize| output_cycles[(frame + 1) * out_beats - 1];
    let cycles_per_frame = if frames >= 3 { last_of(frames - 1) - last_of(frames - 2) } else { last_of(0) + 1 };
    Timing { latency: last_of(0) - first_entered.unwrap_or(0), cycles_per_frame, output_cycles }
}
