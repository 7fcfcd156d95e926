//! The pure core's hot functions, natively, with criterion:
//! `cargo bench -p warden-micro`. The workloads are `warden_micro::workloads`.

use criterion::{Criterion, criterion_group, criterion_main};

fn benches(c: &mut Criterion) {
    for (name, mut run) in warden_micro::workloads() {
        c.bench_function(name, |b| b.iter(&mut run));
    }
}

criterion_group!(core, benches);
criterion_main!(core);
