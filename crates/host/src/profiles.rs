//! Host profiles: which interfaces beyond WASI and `wasi:http` the host
//! links, so that each warden flavour is run against what its real host
//! offers, and a component that imports more fails to start, as it would
//! there.

use crate::spin::bindings::{spin, wasi};
use crate::spin::{Spin, SpinView};
use wasmtime::component::Linker;

/// The host the local host stands in for. Every profile links WASI 0.2 and
/// 0.3 and `wasi:http@0.3.0`; the key-value and config interfaces reach the
/// same store and variables whichever profile links them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Spin 4.1: `spin:key-value@3.0.0`, `spin:sqlite@3.1.0`,
    /// `spin:variables@3.0.0`, `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2`
    /// and `wasi:config/store@0.2.0-draft-2024-09-27`.
    #[default]
    Spin,
    /// wasmCloud 2.5+ and `wasmtime serve -S keyvalue -S config`:
    /// `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft` and
    /// `wasi:config/store@0.2.0-rc.1`.
    Wasmcloud,
    /// Fermyon Wasm Functions / Akamai Functions, as far as warden-minimal
    /// uses it: `wasi:keyvalue/{store,batch}@0.2.0-draft2` (no atomics) and
    /// `wasi:config/store@0.2.0-draft-2024-09-27`.
    Minimal,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Spin, Profile::Wasmcloud, Profile::Minimal];

    /// The interfaces beyond WASI and `wasi:http` this profile links (what
    /// [`add_to_linker`] adds, listed for error messages).
    pub fn offers(self) -> &'static [&'static str] {
        match self {
            Profile::Spin => &[
                "spin:key-value/key-value@3.0.0",
                "spin:sqlite/sqlite@3.1.0",
                "spin:variables/variables@3.0.0",
                "wasi:keyvalue/store@0.2.0-draft2",
                "wasi:keyvalue/atomics@0.2.0-draft2",
                "wasi:keyvalue/batch@0.2.0-draft2",
                "wasi:config/store@0.2.0-draft-2024-09-27",
            ],
            Profile::Wasmcloud => &[
                "wasi:keyvalue/store@0.2.0-draft",
                "wasi:keyvalue/atomics@0.2.0-draft",
                "wasi:keyvalue/batch@0.2.0-draft",
                "wasi:config/store@0.2.0-rc.1",
            ],
            Profile::Minimal => &[
                "wasi:keyvalue/store@0.2.0-draft2",
                "wasi:keyvalue/batch@0.2.0-draft2",
                "wasi:config/store@0.2.0-draft-2024-09-27",
            ],
        }
    }

    /// Which of `imports` are interfaces another profile offers and this one
    /// does not: wasmtime names only the first import it cannot satisfy,
    /// this names them all (e.g. every `spin:*` a Spin build imports).
    pub fn lacks<'a>(self, imports: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        imports
            .into_iter()
            .filter(|name| {
                Profile::ALL.iter().any(|p| p.offers().contains(name))
                    && !self.offers().contains(name)
            })
            .collect()
    }

    /// The name `--profile` takes.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Spin => "spin",
            Profile::Wasmcloud => "wasmcloud",
            Profile::Minimal => "minimal",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Profile {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown profile {s:?}: use spin, wasmcloud or minimal"))
    }
}

/// Adds the interfaces `profile` offers (beyond WASI and `wasi:http`) to
/// `linker`, one generated `add_to_linker` per interface, so the linker
/// lacks exactly what that host lacks.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    profile: Profile,
    view: fn(&mut T) -> SpinView<'_>,
) -> wasmtime::Result<()> {
    use wasi::config0_2_0_draft_2024_09_27 as config_draft;
    use wasi::config0_2_0_rc_1 as config_rc;
    use wasi::keyvalue0_2_0_draft as kv_draft;
    use wasi::keyvalue0_2_0_draft2 as kv_draft2;
    match profile {
        Profile::Spin => {
            spin::key_value::key_value::add_to_linker::<T, Spin>(linker, view)?;
            spin::sqlite::sqlite::add_to_linker::<T, Spin>(linker, view)?;
            spin::variables::variables::add_to_linker::<T, Spin>(linker, view)?;
            kv_draft2::store::add_to_linker::<T, Spin>(linker, view)?;
            kv_draft2::atomics::add_to_linker::<T, Spin>(linker, view)?;
            kv_draft2::batch::add_to_linker::<T, Spin>(linker, view)?;
            config_draft::store::add_to_linker::<T, Spin>(linker, view)?;
        }
        Profile::Wasmcloud => {
            kv_draft::store::add_to_linker::<T, Spin>(linker, view)?;
            kv_draft::atomics::add_to_linker::<T, Spin>(linker, view)?;
            kv_draft::batch::add_to_linker::<T, Spin>(linker, view)?;
            config_rc::store::add_to_linker::<T, Spin>(linker, view)?;
        }
        Profile::Minimal => {
            kv_draft2::store::add_to_linker::<T, Spin>(linker, view)?;
            kv_draft2::batch::add_to_linker::<T, Spin>(linker, view)?;
            config_draft::store::add_to_linker::<T, Spin>(linker, view)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_lacks_what_only_the_others_offer() {
        let imports = [
            "wasi:http/handler@0.3.0",
            "spin:sqlite/sqlite@3.1.0",
            "wasi:keyvalue/atomics@0.2.0-draft2",
            "wasi:keyvalue/atomics@0.2.0-draft",
            "wasi:config/store@0.2.0-rc.1",
            "wasi:config/store@0.2.0-draft-2024-09-27",
        ];
        assert_eq!(
            Profile::Spin.lacks(imports),
            [
                "wasi:keyvalue/atomics@0.2.0-draft",
                "wasi:config/store@0.2.0-rc.1"
            ]
        );
        assert_eq!(
            Profile::Wasmcloud.lacks(imports),
            [
                "spin:sqlite/sqlite@3.1.0",
                "wasi:keyvalue/atomics@0.2.0-draft2",
                "wasi:config/store@0.2.0-draft-2024-09-27"
            ]
        );
        assert_eq!(
            Profile::Minimal.lacks(imports),
            [
                "spin:sqlite/sqlite@3.1.0",
                "wasi:keyvalue/atomics@0.2.0-draft2",
                "wasi:keyvalue/atomics@0.2.0-draft",
                "wasi:config/store@0.2.0-rc.1"
            ]
        );
    }
}
