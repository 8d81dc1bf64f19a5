//! The shapes of a convolutional autoencoder: kernel, stride and padding of every encoder
//! convolution, and the feature maps they produce. A 2-D field is a stack of one frame, so
//! both conv kinds share the arithmetic.

use super::ModelSpec;

/// A feature map's shape: [channels, frames, height, width].
pub type FeatureMap = [usize; 4];

/// Kernel, stride and padding of one convolution along [frames, height, width].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
}

impl Geometry {
    /// Height and width use the configured kernel and stride. Along the frames, a stack of at
    /// least `kernel` frames is convolved and strided as the other axes are; a shorter one (a
    /// 2-D field is one frame) gets the largest odd kernel it holds and stride 1, so that no
    /// frame is skipped and padding by half the kernel keeps the frame count.
    pub fn for_layer(spec: &ModelSpec, frames: usize) -> Geometry {
        let (k, s) = (spec.kernel, spec.stride);
        let (frame_kernel, frame_stride) = if frames >= k { (k, s) } else { (frames - 1 + frames % 2, 1) };
        Geometry {
            kernel: [frame_kernel, k, k],
            stride: [frame_stride, s, s],
            padding: [frame_kernel / 2, k / 2, k / 2],
        }
    }

    /// The extents [frames, height, width] after the convolution.
    pub fn output(&self, input: [usize; 3]) -> [usize; 3] {
        std::array::from_fn(|a| (input[a] + 2 * self.padding[a]).saturating_sub(self.kernel[a]) / self.stride[a] + 1)
    }

    /// The output padding a transposed convolution of this geometry needs to give back
    /// exactly `restored` from `reduced`.
    pub fn output_padding(&self, reduced: [usize; 3], restored: [usize; 3]) -> [usize; 3] {
        std::array::from_fn(|a| {
            let (k, s, p) = (self.kernel[a], self.stride[a], self.padding[a]);
            restored[a] - ((reduced[a] - 1) * s + k - 2 * p)
        })
    }
}

/// The input as a feature map: one channel, and one frame for a 2-D field.
pub fn input_map(spec: &ModelSpec) -> FeatureMap {
    match spec.sample_shape[..] {
        [height, width] => [1, 1, height, width],
        [frames, height, width] => [1, frames, height, width],
        ref shape => panic!("a conv model has 2-D or 3-D samples, not {shape:?}"),
    }
}

/// Each encoder convolution's geometry and the feature map after it, input first.
pub fn encoder_layers(spec: &ModelSpec) -> (Vec<Geometry>, Vec<FeatureMap>) {
    let mut maps = vec![input_map(spec)];
    let mut geometries = vec![];
    for &channels in &spec.channels {
        let [_, frames, height, width] = *maps.last().expect("starts with the input");
        let geometry = Geometry::for_layer(spec, frames);
        let [frames, height, width] = geometry.output([frames, height, width]);
        geometries.push(geometry);
        maps.push([channels, frames, height, width]);
    }
    (geometries, maps)
}

/// Extents [frames, height, width] of a feature map.
pub fn extents(map: &FeatureMap) -> [usize; 3] {
    [map[1], map[2], map[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelConfig, ModelKind};

    fn spec(kind: ModelKind, sample_shape: &[usize], channels: &[usize]) -> ModelSpec {
        let config = ModelConfig {
            kind,
            channels: Some(channels.to_vec()),
            hidden: Some(vec![]),
            latent: 8,
            ..Default::default()
        };
        ModelSpec::resolve(&config, sample_shape, 32).unwrap()
    }

    #[test]
    fn a_field_keeps_its_single_frame() {
        let (geometries, maps) = encoder_layers(&spec(ModelKind::Conv2d, &[50, 50], &[8, 16]));
        assert_eq!(maps, vec![[1, 1, 50, 50], [8, 1, 25, 25], [16, 1, 13, 13]]);
        assert_eq!(geometries[0], Geometry { kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1] });
    }

    #[test]
    fn frames_are_strided_while_the_kernel_fits() {
        let (geometries, maps) = encoder_layers(&spec(ModelKind::Conv3d, &[4, 50, 50], &[4, 8, 8]));
        assert_eq!(maps, vec![[1, 4, 50, 50], [4, 2, 25, 25], [8, 2, 13, 13], [8, 2, 7, 7]]);
        assert_eq!(geometries[0].kernel, [3, 3, 3]);
        assert_eq!((geometries[1].kernel[0], geometries[1].stride[0]), (1, 1));
    }

    #[test]
    fn transposed_convolutions_restore_every_extent() {
        for shape in [[4, 50, 50], [5, 9, 12], [3, 7, 7], [2, 6, 5], [8, 16, 16]] {
            let s = spec(ModelKind::Conv3d, &shape, &[2, 3, 4]);
            let (geometries, maps) = encoder_layers(&s);
            for (g, m) in geometries.iter().zip(maps.windows(2)) {
                let (restored, reduced) = (extents(&m[0]), extents(&m[1]));
                let padding = g.output_padding(reduced, restored);
                for a in 0..3 {
                    assert!(padding[a] < g.stride[a], "{shape:?}: output padding {padding:?} vs {g:?}");
                    let full = (reduced[a] - 1) * g.stride[a] + g.kernel[a] + padding[a] - 2 * g.padding[a];
                    assert_eq!(full, restored[a], "{shape:?} axis {a}");
                }
            }
        }
    }
}
