//! Where training runs: the CPU by default; GPUs through burn's wgpu or CUDA backends when
//! balerc is built with the `wgpu` or `cuda` feature (kept out of the default build: they take
//! long to compile, and CUDA's build downloads its compiler). Several devices of one kind train
//! data parallel (see `train::data_parallel`).

use burn::prelude::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's flex backend on all cores.
    #[default]
    Cpu,
    /// The default adapter that wgpu finds (Vulkan, Metal, DirectX or WebGPU), or the discrete
    /// GPU with this index.
    Wgpu(Option<usize>),
    /// The CUDA GPU with this index.
    Cuda(usize),
}

const CHOICES: &str = "choose cpu, wgpu, wgpu:N, cuda or cuda:N; several separated by commas";

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => return Ok(DeviceChoice::Cpu),
            "wgpu" => return Ok(DeviceChoice::Wgpu(None)),
            "cuda" => return Ok(DeviceChoice::Cuda(0)),
            _ => {}
        }
        let (kind, index) = s.split_once(':').ok_or_else(|| format!("unknown device '{s}' ({CHOICES})"))?;
        let index = match (kind, index.parse()) {
            ("wgpu" | "cuda", Ok(index)) => index,
            ("wgpu" | "cuda", Err(_)) => {
                return Err(format!("device '{s}': the GPU index after '{kind}:' must be a number such as {kind}:0"))
            }
            _ => return Err(format!("unknown device '{s}' ({CHOICES})")),
        };
        Ok(if kind == "wgpu" { DeviceChoice::Wgpu(Some(index)) } else { DeviceChoice::Cuda(index) })
    }
}

impl DeviceChoice {
    pub fn open(self) -> Result<Device, String> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Wgpu(index) => wgpu(index),
            DeviceChoice::Cuda(index) => cuda(index),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu(_) => "wgpu",
            DeviceChoice::Cuda(_) => "cuda",
        }
    }
}

/// What `--device` names: one device, or several of one kind separated by commas
/// (`cuda:0,cuda:1`) to split every batch across them. The first one holds the model, steps it
/// and computes the validation loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceList(Vec<DeviceChoice>);

impl std::str::FromStr for DeviceList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err(format!("no device given ({CHOICES})"));
        }
        let names: Vec<&str> = s.split(',').map(str::trim).collect();
        if names.contains(&"") {
            return Err(format!("'{s}' has an empty device name ({CHOICES})"));
        }
        let devices: Vec<DeviceChoice> = names.iter().map(|name| name.parse()).collect::<Result<_, _>>()?;
        // Gradients of the devices are summed on the first; mixing a CPU into GPUs would only
        // make every step wait for it.
        if let Some(other) = devices.iter().find(|d| d.kind() != devices[0].kind()) {
            return Err(format!(
                "'{s}' mixes {} and {} devices: train data parallel on devices of one kind",
                devices[0].kind(),
                other.kind()
            ));
        }
        Ok(DeviceList(devices))
    }
}

impl DeviceList {
    pub fn open(&self) -> Result<Vec<Device>, String> {
        self.0.iter().map(|d| d.open()).collect()
    }
}

#[cfg(feature = "wgpu")]
fn wgpu(index: Option<usize>) -> Result<Device, String> {
    use burn::tensor::DeviceKind;
    Ok(Device::wgpu(index.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu)))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(_index: Option<usize>) -> Result<Device, String> {
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
        assert_eq!("wgpu:2".parse(), Ok(DeviceChoice::Wgpu(Some(2))));
        assert!("tpu".parse::<DeviceChoice>().unwrap_err().contains("cpu, wgpu"));
        #[cfg(not(feature = "wgpu"))]
        assert!(DeviceChoice::Wgpu(None).open().unwrap_err().contains("--features wgpu"));
        assert!(DeviceChoice::Cpu.open().is_ok());
    }

    #[test]
    fn device_lists_split_on_commas() {
        let list: DeviceList = "cuda:0, cuda:1".parse().unwrap();
        assert_eq!(list, DeviceList(vec![DeviceChoice::Cuda(0), DeviceChoice::Cuda(1)]));
        assert_eq!("cpu".parse::<DeviceList>().unwrap(), DeviceList(vec![DeviceChoice::Cpu]));
        assert_eq!("cpu,cpu".parse::<DeviceList>().unwrap().open().unwrap().len(), 2);
    }

    #[test]
    fn bad_device_lists_say_what_is_wrong() {
        let error = |s: &str| s.parse::<DeviceList>().unwrap_err();
        assert!(error("cuda:x").contains("the GPU index after 'cuda:' must be a number"), "{}", error("cuda:x"));
        assert!(error("").starts_with("no device given"));
        assert!(error("cpu,").contains("empty device name"));
        assert!(error("cpu,tpu").contains("unknown device 'tpu'"));
        assert!(error("cpu,cuda:0").contains("mixes cpu and cuda"));
    }
}
