//! Times every workload with a plain loop and prints one JSON object per
//! line: `{"name": ..., "ns": ...}` (nanoseconds per iteration, the best of
//! five rounds of at least 100 ms). Built for wasm32-wasip2 and run by
//! `warden-host run`, it shows what the same decisions cost inside the
//! component's runtime; built natively, the same harness's baseline.

use std::time::{Duration, Instant};

fn main() {
    for (name, mut run) in warden_micro::workloads() {
        for _ in 0..1000 {
            run();
        }
        let mut iterations: u64 = 1000;
        let mut best = f64::INFINITY;
        let mut rounds = 0;
        while rounds < 5 {
            let start = Instant::now();
            for _ in 0..iterations {
                run();
            }
            let elapsed = start.elapsed();
            if elapsed < Duration::from_millis(100) {
                iterations *= 2;
                continue;
            }
            best = best.min(elapsed.as_nanos() as f64 / iterations as f64);
            rounds += 1;
        }
        println!("{{\"name\":{name:?},\"ns\":{best:.1}}}");
    }
}
