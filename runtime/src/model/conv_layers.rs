//! burn's 2-D and 3-D (transposed) convolutions behind one interface, so that one autoencoder
//! serves fields and stacks of frames. Feature maps are always [batch, channels, frames,
//! height, width]; the 2-D layers see them without the frame axis, which is 1.

use super::conv_geometry::Geometry;
use super::{values, LayerQuant};
use crate::onnx_export::ExportLayer;
use burn::module::{Module, ModuleDisplay};
use burn::nn::conv::{Conv2d, Conv2dConfig, Conv3d, Conv3dConfig};
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig, ConvTranspose3d, ConvTranspose3dConfig};
use burn::nn::{PaddingConfig2d, PaddingConfig3d};
use burn::prelude::*;
use burn::tensor::module::{conv2d, conv3d, conv_transpose2d, conv_transpose3d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// A convolution layer of the encoder, and the transposed one of the decoder that mirrors it.
pub trait ConvLayer: Module + ModuleDisplay {
    type Transposed: Module + ModuleDisplay;
    /// The spatial axes the layer's ONNX node has: 2 (height, width) or 3 (and frames).
    const AXES: usize;

    fn new(channels: [usize; 2], geometry: &Geometry, device: &Device) -> Self;
    fn new_transposed(
        channels: [usize; 2],
        geometry: &Geometry,
        output_padding: [usize; 3],
        device: &Device,
    ) -> Self::Transposed;

    /// The convolution before its activation, with the weights rounded under QAT.
    fn forward(&self, x: Tensor<5>, quant: Option<&LayerQuant>) -> Tensor<5>;
    fn forward_transposed(layer: &Self::Transposed, x: Tensor<5>, quant: Option<&LayerQuant>) -> Tensor<5>;

    fn export(&self, quant: Option<&LayerQuant>) -> ExportLayer;
    fn export_transposed(layer: &Self::Transposed, quant: Option<&LayerQuant>) -> ExportLayer;
}

/// Height and width of a [frames, height, width] setting.
fn planar(axes: [usize; 3]) -> [usize; 2] {
    [axes[1], axes[2]]
}

impl ConvLayer for Conv2d {
    type Transposed = ConvTranspose2d;
    const AXES: usize = 2;

    fn new(channels: [usize; 2], geometry: &Geometry, device: &Device) -> Self {
        let [p_h, p_w] = planar(geometry.padding);
        Conv2dConfig::new(channels, planar(geometry.kernel))
            .with_stride(planar(geometry.stride))
            .with_padding(PaddingConfig2d::Explicit(p_h, p_w, p_h, p_w))
            .init(device)
    }

    fn new_transposed(
        channels: [usize; 2],
        geometry: &Geometry,
        output_padding: [usize; 3],
        device: &Device,
    ) -> ConvTranspose2d {
        ConvTranspose2dConfig::new(channels, planar(geometry.kernel))
            .with_stride(planar(geometry.stride))
            .with_padding(planar(geometry.padding))
            .with_padding_out(planar(output_padding))
            .init(device)
    }

    fn forward(&self, x: Tensor<5>, quant: Option<&LayerQuant>) -> Tensor<5> {
        let (weight, bias) = trained(self.weight.val(), self.bias.as_ref().map(|b| b.val()), quant);
        let options = ConvOptions::new(self.stride, self.kernel_size.map(|k| k / 2), self.dilation, self.groups);
        conv2d(x.squeeze_dim(2), weight, bias, options).unsqueeze_dim(2)
    }

    fn forward_transposed(layer: &ConvTranspose2d, x: Tensor<5>, quant: Option<&LayerQuant>) -> Tensor<5> {
        let (weight, bias) = trained(layer.weight.val(), layer.bias.as_ref().map(|b| b.val()), quant);
        let options =
            ConvTransposeOptions::new(layer.stride, layer.padding, layer.padding_out, layer.dilation, layer.groups);
        conv_transpose2d(x.squeeze_dim(2), weight, bias, options).unsqueeze_dim(2)
    }

    fn export(&self, quant: Option<&LayerQuant>) -> ExportLayer {
        export_conv(self.weight.val(), self.bias.as_ref().map(|b| b.val()), quant, &self.stride, &self.kernel_size)
    }

    fn export_transposed(layer: &ConvTranspose2d, quant: Option<&LayerQuant>) -> ExportLayer {
        let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
        export_deconv(weight, bias, quant, &layer.stride, &layer.padding, &layer.padding_out)
    }
}

impl ConvLayer for Conv3d {
    type Transposed = ConvTranspose3d;
    const AXES: usize = 3;

    fn new(channels: [usize; 2], geometry: &Geometry, device: &Device) -> Self {
        let [p_f, p_h, p_w] = geometry.padding;
        Conv3dConfig::new(channels, geometry.kernel)
            .with_stride(geometry.stride)
            .with_padding(PaddingConfig3d::Explicit(p_f, p_h, p_w))
            .init(device)
    }

    fn new_transposed(
        channels: [usize; 2],
        geometry: &Geometry,
        output_padding: [usize; 3],
        device: &Device,
    ) -> ConvTranspose3d {
        ConvTranspose3dConfig::new(channels, geometry.kernel)
            .with_stride(geometry.stride)
            .with_padding(geometry.padding)
            .with_padding_out(output_padding)
            .init(device)
    }

    fn forward(&self, x: Tensor<5>, quant: Option<&LayerQuant>) -> Tensor<5> {
        let (weight, bias) = trained(self.weight.val(), self.bias.as_ref().map(|b| b.val()), quant);
        let options = ConvOptions::new(self.stride, self.kernel_size.map(|k| k / 2), self.dilation, self.groups);
        conv3d(x, weight, bias, options)
    }

    fn forward_transposed(layer: &ConvTranspose3d, x: Tensor<5>, quant: Option<&LayerQuant>) -> Tensor<5> {
        let (weight, bias) = trained(layer.weight.val(), layer.bias.as_ref().map(|b| b.val()), quant);
        let options =
            ConvTransposeOptions::new(layer.stride, layer.padding, layer.padding_out, layer.dilation, layer.groups);
        conv_transpose3d(x, weight, bias, options)
    }

    fn export(&self, quant: Option<&LayerQuant>) -> ExportLayer {
        export_conv(self.weight.val(), self.bias.as_ref().map(|b| b.val()), quant, &self.stride, &self.kernel_size)
    }

    fn export_transposed(layer: &ConvTranspose3d, quant: Option<&LayerQuant>) -> ExportLayer {
        let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
        export_deconv(weight, bias, quant, &layer.stride, &layer.padding, &layer.padding_out)
    }
}

/// The weight and bias the forward pass uses: rounded to their types under QAT (the gradient
/// passes straight through).
fn trained<const D: usize>(
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
    quant: Option<&LayerQuant>,
) -> (Tensor<D>, Option<Tensor<1>>) {
    match quant {
        None => (weight, bias),
        Some(q) => (q.weight.apply(weight), bias.map(|b| q.bias.apply(b))),
    }
}

/// A layer's weight and bias as exported: rounded to their types under QAT, so the compiler's
/// cast of them is exact.
fn exported<const D: usize>(
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
    quant: Option<&LayerQuant>,
) -> (Tensor<D>, Option<Tensor<1>>) {
    match quant {
        None => (weight, bias),
        Some(q) => (q.weight.round(weight), bias.map(|b| q.bias.round(b))),
    }
}

fn export_conv<const D: usize>(
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
    quant: Option<&LayerQuant>,
    stride: &[usize],
    kernel: &[usize],
) -> ExportLayer {
    let weight_shape = weight.dims().to_vec();
    let (weight, bias) = exported(weight, bias, quant);
    ExportLayer::Conv {
        bias: bias_or_zero(bias, weight_shape[0]),
        weight: values(weight),
        weight_shape,
        stride: stride.to_vec(),
        padding: kernel.iter().map(|k| k / 2).collect(),
    }
}

fn export_deconv<const D: usize>(
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
    quant: Option<&LayerQuant>,
    stride: &[usize],
    padding: &[usize],
    output_padding: &[usize],
) -> ExportLayer {
    let weight_shape = weight.dims().to_vec();
    let (weight, bias) = exported(weight, bias, quant);
    ExportLayer::ConvTranspose {
        bias: bias_or_zero(bias, weight_shape[1]),
        weight: values(weight),
        weight_shape,
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        output_padding: output_padding.to_vec(),
    }
}

fn bias_or_zero(bias: Option<Tensor<1>>, channels: usize) -> Vec<f32> {
    bias.map(values).unwrap_or_else(|| vec![0.0; channels])
}
