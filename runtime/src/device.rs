//! Where training runs: the CPU by default; GPUs through burn's wgpu or CUDA backends when
//! balerc is built with the `wgpu` or `cuda` feature (kept out of the default build: they take
//! long to compile, and CUDA's build downloads its compiler).

use burn::prelude::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's flex backend on all cores.
    #[default]
    Cpu,
    /// The default adapter that wgpu finds (Vulkan, Metal, DirectX or WebGPU).
    Wgpu,
    /// The CUDA GPU with this index.
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(index)) => Ok(DeviceChoice::Cuda(index)),
                _ => Err(format!("unknown device '{s}' (choose cpu, wgpu, cuda or cuda:N)")),
            },
        }
    }
}

impl DeviceChoice {
    pub fn open(self) -> Result<Device, String> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Wgpu => wgpu(),
            DeviceChoice::Cuda(index) => cuda(index),
        }
    }
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, String> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, String> {
    Err("this balerc was built without GPU support: rebuild with `cargo build --release --features wgpu`".into())
}

#[cfg(feature = "cuda")]
fn cuda(index: usize) -> Result<Device, String> {
    Ok(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize) -> Result<Device, String> {
    Err("this balerc was built without CUDA: rebuild with `cargo build --release --features cuda` \
         (its build downloads the CUDA compiler toolchain, so it needs the network)"
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_missing_backends_say_how_to_get_them() {
        assert_eq!("cuda:1".parse(), Ok(DeviceChoice::Cuda(1)));
        assert!("tpu".parse::<DeviceChoice>().unwrap_err().contains("cpu, wgpu"));
        #[cfg(not(feature = "wgpu"))]
        assert!(DeviceChoice::Wgpu.open().unwrap_err().contains("--features wgpu"));
        assert!(DeviceChoice::Cpu.open().is_ok());
    }
}
