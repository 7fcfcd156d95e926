//! Host profiles through the test support: `Setup::profile` reaches the
//! host, which links only that host's interfaces. (The flavours' own tests
//! pick `warden_wasmcloud` / `warden_minimal` with `middleware` and their
//! profile with `profile`.)

use warden_tests::*;

#[tokio::test]
async fn the_spin_build_is_refused_by_the_other_profiles() {
    for profile in [Profile::Wasmcloud, Profile::Minimal] {
        let err = match TestHost::try_start(Setup::default().profile(profile)).await {
            Ok(_) => panic!("warden.wasm started on the {profile} profile"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("spin:sqlite/sqlite@3.1.0"), "{profile}: {err}");
    }
    let host = TestHost::start(Setup::default().profile(Profile::Spin)).await;
    assert_eq!(host.counts().kv_writes, 0);
}
