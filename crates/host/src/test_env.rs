//! Unit-test support: the shared environment the interfaces work on (an
//! embedded key-value file and database in a temporary directory, and some
//! variables), so their trait implementations can be called directly.

use crate::Faults;
use crate::spin::{SpinEnv, SpinView};
use crate::storage::{KeyValue, Sqlite};
use crate::variables::Variables;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::ResourceTable;

/// One host's backends, removed when dropped.
pub struct TestEnv {
    pub env: Arc<SpinEnv>,
    pub faults: Arc<Faults>,
    pub table: ResourceTable,
    dir: PathBuf,
}

impl TestEnv {
    /// `variables` as `--variable name=value` pairs.
    pub fn new(variables: &[(&str, &str)]) -> TestEnv {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "warden-host-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let faults = Arc::new(Faults::default());
        let explicit: HashMap<String, String> = variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = Arc::new(SpinEnv {
            kv: KeyValue::open(&dir, faults.clone()).unwrap(),
            sqlite: Sqlite::open(&dir, faults.clone()).unwrap(),
            variables: Variables::resolve(&HashMap::new(), &explicit, |_| None).unwrap(),
        });
        TestEnv {
            env,
            faults,
            table: ResourceTable::new(),
            dir,
        }
    }

    /// The view an instance's bindings get.
    pub fn view(&mut self) -> SpinView<'_> {
        SpinView {
            env: &self.env,
            table: &mut self.table,
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
