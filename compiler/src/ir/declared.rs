//! Types a model declares for itself through its quantization nodes.

use crate::fixed::FixedType;

/// The types of a node's tensors that the model's own quantizers fix. Where one is None the
/// model leaves that tensor in floating point, and the precision configuration chooses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declared {
    pub weight: Option<FixedType>,
    pub bias: Option<FixedType>,
    pub result: Option<FixedType>,
}

impl Declared {
    pub fn is_empty(&self) -> bool {
        self.weight.is_none() && self.bias.is_none() && self.result.is_none()
    }
}
