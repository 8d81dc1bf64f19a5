//! A convolution as a sparse weighted sum: for every output element, the (input element,
//! weight) pairs that feed it. The simulator and the backends all read this one table,
//! so padding, stride, dilation and transposition are worked out in one place.

use super::Conv;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Taps {
    /// `entries[starts[o]..starts[o + 1]]` feed output element `o`.
    pub starts: Vec<usize>,
    /// (flat input index, flat weight index) pairs.
    pub entries: Vec<(u32, u32)>,
    /// Output elements per channel, to find an output's bias.
    pub per_channel: usize,
}

impl Taps {
    pub fn of(&self, output: usize) -> &[(u32, u32)] {
        &self.entries[self.starts[output]..self.starts[output + 1]]
    }

    pub fn outputs(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn channel(&self, output: usize) -> usize {
        output / self.per_channel
    }
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// Every multi-index of a shape, in row-major order.
fn indices(shape: &[usize]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let total: usize = shape.iter().product();
    let strides = strides(shape);
    (0..total).map(move |flat| shape.iter().zip(&strides).map(|(&n, &s)| flat / s % n).collect())
}

impl Conv {
    /// The taps for an input of per-sample shape [c_in, spatial...].
    pub fn taps(&self, input: &[usize]) -> Taps {
        let spatial_in = &input[1..];
        let spatial_out = self.output_extent(spatial_in).expect("shapes were inferred");
        let per_channel: usize = spatial_out.iter().product();
        let (c_in, c_out) = (self.in_channels(), self.out_channels());
        let kernel = &self.geometry.kernel;
        let in_strides = strides(input);
        let w_strides = strides(&self.weight.shape);
        let mut lists: Vec<Vec<(u32, u32)>> = vec![Vec::new(); c_out * per_channel];
        let g = &self.geometry;
        let taps_per_pair: usize = kernel.iter().product();
        for co in 0..c_out {
            for ci in 0..c_in {
                let w_base = if self.transposed {
                    ci * w_strides[0] + co * w_strides[1]
                } else {
                    co * w_strides[0] + ci * w_strides[1]
                };
                // A pair of channels whose kernel is all zeros adds nothing: pools and
                // upsampling pair each channel with itself only.
                if self.weight.data[w_base..w_base + taps_per_pair].iter().all(|&w| w == 0.0) {
                    continue;
                }
                for k in indices(kernel) {
                    let w_index = w_base + k.iter().zip(&w_strides[2..]).map(|(a, b)| a * b).sum::<usize>();
                    // A plain conv reads input o*stride - pad + k*dilation for output o;
                    // a transposed one writes input i to output i*stride - pad + k*dilation.
                    let (from_shape, to_extent) =
                        if self.transposed { (spatial_in, &spatial_out[..]) } else { (&spatial_out[..], spatial_in) };
                    for a in indices(from_shape) {
                        let reached: Option<Vec<usize>> = (0..k.len())
                            .map(|d| {
                                let p = (a[d] * g.stride[d] + k[d] * g.dilation[d]) as isize - g.padding[d].0 as isize;
                                (p >= 0 && (p as usize) < to_extent[d]).then_some(p as usize)
                            })
                            .collect();
                        if let Some(b) = reached {
                            let (o, i) = if self.transposed { (b, a) } else { (a, b) };
                            let out = co * per_channel + flat(&o, &spatial_out);
                            let inp = ci * in_strides[0] + flat(&i, spatial_in);
                            lists[out].push((inp as u32, w_index as u32));
                        }
                    }
                }
            }
        }
        let mut starts = Vec::with_capacity(lists.len() + 1);
        let mut entries = Vec::new();
        starts.push(0);
        for mut list in lists {
            list.sort_unstable();
            entries.extend(list);
            starts.push(entries.len());
        }
        Taps { starts, entries, per_channel }
    }
}

fn flat(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(strides(shape)).map(|(i, s)| i * s).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ConvGeometry, Tensor};

    fn conv1d(transposed: bool, stride: usize, pad: usize, output_padding: usize) -> Conv {
        Conv {
            transposed,
            weight: Tensor::new(vec![1, 1, 3], vec![1.0, 10.0, 100.0]),
            bias: vec![0.0],
            geometry: ConvGeometry {
                kernel: vec![3],
                stride: vec![stride],
                dilation: vec![1],
                padding: vec![(pad, pad)],
                output_padding: vec![output_padding],
            },
            activation: None,
        }
    }

    #[test]
    fn padded_conv_reads_neighbours() {
        let taps = conv1d(false, 1, 1, 0).taps(&[1, 4]);
        assert_eq!(taps.outputs(), 4);
        assert_eq!(taps.of(0), &[(0, 1), (1, 2)]);
        assert_eq!(taps.of(1), &[(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn transposed_conv_scatters_with_stride() {
        // Length 2, stride 2, pad 1, output padding 1: output length (2-1)*2 + 3 - 2 + 1 = 4.
        let taps = conv1d(true, 2, 1, 1).taps(&[1, 2]);
        assert_eq!(taps.outputs(), 4);
        // Output o receives input i with kernel k where o = 2i + k - 1.
        assert_eq!(taps.of(0), &[(0, 1)]);
        assert_eq!(taps.of(1), &[(0, 2), (1, 0)]);
        assert_eq!(taps.of(2), &[(1, 1)]);
        assert_eq!(taps.of(3), &[(1, 2)]);
    }
}
