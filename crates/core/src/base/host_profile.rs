//! STUB until the core branch lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostFlavour { #[default] Spin, Wasmcloud, Minimal }
