//! `wasi:config/store`, at `0.2.0-draft-2024-09-27` (what Spin and Fermyon
//! Wasm Functions offer; the `warden-minimal` flavour imports it) and
//! `0.2.0-rc.1` (wasmCloud, `wasmtime serve -S config`; the
//! `warden-wasmcloud` flavour), reading the same variables as
//! `spin:variables` (manifest defaults, `--variable`, `SPIN_VARIABLE_*`).
//!
//! As Spin maps them: a variable that is undefined, or whose name is not a
//! valid variable name, is `Ok(none)`, not an error.

use crate::spin::bindings::wasi::{config0_2_0_draft_2024_09_27 as draft, config0_2_0_rc_1 as rc};
use crate::spin::{SpinView, VariablesError, Wt};

/// Both versions' `store` interface: the same functions over the same
/// variables, differing only in their generated error type.
macro_rules! config_store {
    ($store:path) => {
        impl $store for SpinView<'_> {
            async fn get(&mut self, key: String) -> Wt<Result<Option<String>, Error>> {
                Ok(match self.env.variables.get(&key) {
                    Ok(value) => Ok(Some(value)),
                    Err(VariablesError::Undefined(_) | VariablesError::InvalidName(_)) => Ok(None),
                    Err(VariablesError::Provider(m)) => Err(Error::Upstream(m)),
                    Err(VariablesError::Other(m)) => Err(Error::Io(m)),
                })
            }

            async fn get_all(&mut self) -> Wt<Result<Vec<(String, String)>, Error>> {
                Ok(Ok(self.env.variables.all()))
            }
        }
    };
}

mod draft_impl {
    use super::*;
    use draft::store::Error;
    config_store!(draft::store::Host);
}

mod rc_impl {
    use super::*;
    use rc::store::Error;
    config_store!(rc::store::Host);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_env::TestEnv;

    #[tokio::test]
    async fn both_versions_read_the_spin_variables() {
        let mut t = TestEnv::new(&[("policy", "[[routes]]"), ("api_key", "k1")]);
        let mut v = t.view();
        assert_eq!(
            draft::store::Host::get(&mut v, "policy".into())
                .await
                .unwrap()
                .unwrap(),
            Some("[[routes]]".to_string())
        );
        assert_eq!(
            rc::store::Host::get(&mut v, "api_key".into())
                .await
                .unwrap()
                .unwrap(),
            Some("k1".to_string())
        );
        let all = vec![
            ("api_key".to_string(), "k1".to_string()),
            ("policy".to_string(), "[[routes]]".to_string()),
        ];
        assert_eq!(
            draft::store::Host::get_all(&mut v).await.unwrap().unwrap(),
            all
        );
        assert_eq!(
            rc::store::Host::get_all(&mut v).await.unwrap().unwrap(),
            all
        );
    }

    /// Undefined and invalid names (hostile input included) are `none`, as
    /// Spin answers them, never an error or a trap.
    #[tokio::test]
    async fn unknown_and_invalid_names_are_none() {
        let mut t = TestEnv::new(&[("policy", "p")]);
        let mut v = t.view();
        for key in [
            "missing",
            "Policy",
            "",
            "a\0b",
            "../policy",
            &"x".repeat(100_000),
        ] {
            assert_eq!(
                draft::store::Host::get(&mut v, key.into())
                    .await
                    .unwrap()
                    .unwrap(),
                None,
                "{key:.20}"
            );
            assert_eq!(
                rc::store::Host::get(&mut v, key.into())
                    .await
                    .unwrap()
                    .unwrap(),
                None
            );
        }
    }
}
