use super::*;
use std::collections::HashMap;

fn id(n: u8) -> InstanceId {
    InstanceId::from_bytes(&[n; 8])
}

#[test]
fn records_round_trip_and_hostile_records_never_panic() {
    let entries = vec![
        ("00000000000000bb".to_owned(), 3),
        ("00000000000000aa".to_owned(), 9),
    ];
    let bytes = encode_record(&entries);
    assert_eq!(bytes, b"00000000000000bb=3,00000000000000aa=9".to_vec());
    assert_eq!(parse_record(&bytes), entries);
    // Malformed entries are skipped, duplicates keep their largest count,
    // counts that overflow are skipped.
    let parsed = parse_record(
        b"junk,00000000000000AA=1,00000000000000aa=2,00000000000000aa=7,=,0000000000000001=99999999999999999999999,0000000000000002=-1,0000000000000003=,\xff\xfe=1,0000000000000004=18446744073709551615",
    );
    assert_eq!(
        parsed,
        vec![
            ("00000000000000aa".to_owned(), 7),
            ("0000000000000004".to_owned(), u64::MAX)
        ]
    );
    // Sums saturate.
    assert_eq!(
        split_record(&[("a".into(), u64::MAX), ("b".into(), 5)], "c"),
        (u64::MAX, 0)
    );
    // At most MAX_RECORD_ENTRIES, the last written kept and the rest
    // folded into one, first (the total is kept); at most
    // MAX_SCANNED_ENTRIES looked at.
    let many: Vec<(String, u64)> = (1..=200u64).map(|n| (format!("{n:016x}"), n)).collect();
    let parsed = parse_record(&encode_record(&many));
    assert_eq!(parsed.len(), MAX_RECORD_ENTRIES);
    assert_eq!(parsed.iter().map(|(_, n)| n).sum::<u64>(), 200 * 201 / 2);
    assert_eq!(parsed[0], (FOLDED_ID.to_owned(), (1..=137).sum::<u64>()));
    assert_eq!(parsed[1].0, format!("{:016x}", 138));
    assert_eq!(parsed.last().unwrap().0, format!("{:016x}", 200));
    assert_eq!(
        parse_record(&encode_record(&parsed)).len(),
        MAX_RECORD_ENTRIES
    );
    assert_eq!(InstanceId::from_bytes(&[0; 8]).as_str(), "0000000000000001");
    let huge = "x,".repeat(100_000) + "00000000000000aa=1";
    assert!(parse_record(huge.as_bytes()).is_empty());
    assert!(parse_record(b"").is_empty());
}

#[test]
fn a_fresh_instance_reads_first_and_starts_from_the_stores_total() {
    // A new key with a token: read and written at once, so an instance that
    // ends after one request has still counted it in the store.
    let mut c = ApproximateCounters::new(id(1), ApproximateSettings::default(), 0);
    assert_eq!(c.plan("k", 100, 0), Plan::Sync);
    let t = c.count(
        "k",
        60,
        Plan::Sync,
        Some(b"00000000000000aa=10,00000000000000bb=5"),
        0,
    );
    assert_eq!(t.estimate, 16);
    let written = format!(
        "00000000000000aa=10,00000000000000bb=5,{}=1",
        c.instance().as_str()
    );
    assert_eq!(t.write.as_deref(), Some(written.as_bytes()));
    // Without a token: only read.
    let mut c = ApproximateCounters::new(id(1), ApproximateSettings::default(), 0);
    while c.take_write(0) {}
    assert_eq!(c.plan("k", 100, 0), Plan::Read);
    let t = c.count(
        "k",
        60,
        Plan::Read,
        Some(b"00000000000000aa=10,00000000000000bb=5"),
        0,
    );
    assert_eq!((t.estimate, t.write), (16, None));
    // A read never lowers what is known of the others.
    assert_eq!(c.plan("k", 100, 1_000), Plan::Sync);
    let t = c.count("k", 60, Plan::Sync, Some(b"00000000000000aa=10"), 1_000);
    assert_eq!(t.estimate, 17);
    c.wrote("k", t.local);
    assert_eq!(c.unsynced(), 0);
}

#[test]
fn the_write_budget_is_a_token_bucket() {
    let settings = ApproximateSettings {
        sync_interval_ms: 100,
        writes_per_second: 2,
    };
    let mut c = ApproximateCounters::new(id(1), settings, 0);
    assert!(c.take_write(0) && c.take_write(0));
    assert!(!c.take_write(0) && !c.take_write(499));
    assert!(c.take_write(500));
    assert!(!c.take_write(999));
    assert!(c.take_write(10_000) && c.take_write(10_000) && !c.take_write(10_000));
    assert_eq!(c.writes(), 5);
    // No token: the plan reads instead of writing.
    let mut c = ApproximateCounters::new(id(1), settings, 0);
    c.count("k", 60, Plan::Read, None, 0);
    assert!(c.take_write(0) && c.take_write(0));
    assert_eq!(c.plan("k", 100, 200), Plan::Read);
    assert_eq!(c.plan("k", 100, 600), Plan::Sync);
}

#[test]
fn memory_is_bounded_and_expired_windows_go_first() {
    let mut c = ApproximateCounters::new(id(1), ApproximateSettings::default(), 0);
    for n in 0..MAX_COUNTERS {
        let end = if n % 2 == 0 { 10 } else { 1_000 };
        c.count(&format!("k{n}"), end, Plan::Read, None, 0);
    }
    assert_eq!(c.len(), MAX_COUNTERS);
    c.count("new", 1_000, Plan::Read, None, 20_000);
    assert_eq!(c.len(), MAX_COUNTERS / 2 + 1);
    for n in 0..MAX_COUNTERS {
        c.count(&format!("more{n}"), 1_000, Plan::Read, None, 30_000);
    }
    assert_eq!(c.len(), MAX_COUNTERS);
}

/// One simulated run: `instances` instances share a store (a map); one
/// client sends a request every `every_ms` for `duration_ms`, round-robin
/// over them (or over `clients` clients, each its own key). Spin-like
/// recycling replaces an instance after `recycle_after` requests.
struct Run {
    instances: usize,
    limit: u64,
    every_ms: u64,
    duration_ms: u64,
    settings: ApproximateSettings,
    recycle_after: Option<u64>,
    clients: usize,
    /// Interleaved: each request goes to a pseudo-random instance after a
    /// jittered gap (0 to 2 × `every_ms`), and each set lands one request
    /// late, after another instance may have read the same record: the
    /// later set of two then loses the earlier's new entry.
    interleaved: Option<u64>,
}

#[derive(Debug, Default)]
struct Outcome {
    /// Requests admitted, per client.
    admitted: Vec<u64>,
    /// Requests sent, per client.
    sent: Vec<u64>,
    /// Per instance slot: request times (for the bound's r_j).
    times: Vec<Vec<u64>>,
    /// Writes granted to each instance incarnation, with its lifetime.
    writes: Vec<(u64, u64)>,
    /// Counts lost with recycled instances (unsynced at their end).
    lost: u64,
    /// Sets that overwrote a newer entry of another instance.
    lost_writes: u64,
}

impl Run {
    fn simulate(&self) -> Outcome {
        let window_end_secs = (self.duration_ms / 1000) + 3_600;
        let mut store: HashMap<String, Vec<u8>> = HashMap::new();
        let mut next_id = 0u8;
        let mut fresh = |now: u64| {
            next_id = next_id.wrapping_add(1);
            (
                ApproximateCounters::new(id(next_id), self.settings, now),
                now,
                0u64,
            )
        };
        let mut slots: Vec<(ApproximateCounters, u64, u64)> =
            (0..self.instances).map(|_| fresh(0)).collect();
        let mut out = Outcome {
            admitted: vec![0; self.clients],
            sent: vec![0; self.clients],
            times: vec![Vec::new(); self.instances],
            ..Outcome::default()
        };
        let mut n = 0usize;
        let mut now = 0;
        let mut seed = self.interleaved.unwrap_or(0);
        let mut random = move |below: u64| {
            // A 64-bit LCG (Knuth's MMIX constants): reproducible and enough.
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % below.max(1)
        };
        // A set issued but not landed yet: (slot, key, record, local).
        let mut in_flight: Option<(usize, String, Vec<u8>, u64)> = None;
        while now < self.duration_ms {
            let slot = match self.interleaved {
                Some(_) => random(self.instances as u64) as usize,
                None => n % self.instances,
            };
            let client = (n / self.instances) % self.clients;
            let key = format!("rl:w{window_end_secs}:3600:{client:032x}");
            if let Some(after) = self.recycle_after
                && slots[slot].2 >= after
            {
                let (old, born, _) = &slots[slot];
                out.lost += old.unsynced();
                out.writes.push((old.writes(), now - born));
                slots[slot] = fresh(now);
            }
            let (counters, _, served) = &mut slots[slot];
            *served += 1;
            let plan = counters.plan(&key, self.limit, now);
            let stored = store.get(&key).cloned();
            let tally = counters.count(&key, window_end_secs, plan, stored.as_deref(), now);
            if let Some((from, landing, bytes, local)) = in_flight.take() {
                let before = store
                    .get(&landing)
                    .map(|b| parse_record(b))
                    .unwrap_or_default();
                let after = parse_record(&bytes);
                let own = slots[from].0.instance().as_str().to_owned();
                if before.iter().any(|(id, count)| {
                    *id != own && after.iter().all(|(i, c)| i != id || c < count)
                }) {
                    out.lost_writes += 1;
                }
                store.insert(landing.clone(), bytes);
                slots[from].0.wrote(&landing, local);
            }
            let (counters, _, _) = &mut slots[slot];
            if let Some(bytes) = tally.write {
                if self.interleaved.is_some() {
                    in_flight = Some((slot, key.clone(), bytes, tally.local));
                } else {
                    store.insert(key.clone(), bytes);
                    counters.wrote(&key, tally.local);
                }
            }
            out.sent[client] += 1;
            if tally.estimate <= self.limit {
                out.admitted[client] += 1;
            }
            out.times[slot].push(now);
            n += 1;
            now += match self.interleaved {
                Some(_) => random(2 * self.every_ms + 1),
                None => self.every_ms,
            };
        }
        for (counters, born, _) in &slots {
            out.writes.push((counters.writes(), now - born));
        }
        out
    }
}

/// The most requests one instance saw in any interval of `span_ms`.
fn most_in(times: &[u64], span_ms: u64) -> u64 {
    let mut most = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while times[start] + span_ms <= *t {
            start += 1;
        }
        most = most.max((end - start + 1) as u64);
    }
    most
}

/// The documented bound: min(K × L, L + (K − 1) × (r + min(r, c))), r the
/// most requests one instance receives in one sync interval, c the early
/// sync count.
fn bound(run: &Run, out: &Outcome) -> u64 {
    let k = run.instances as u64;
    let r = out
        .times
        .iter()
        .map(|t| most_in(t, run.settings.sync_interval_ms))
        .max()
        .unwrap_or(0);
    let c = early_sync(run.limit);
    (k * run.limit).min(run.limit + (k - 1) * (r + r.min(c)))
}

fn check_writes(run: &Run, out: &Outcome) {
    for (writes, lifetime_ms) in &out.writes {
        // Burst plus the rate over the lifetime.
        let budget = u64::from(run.settings.writes_per_second) * (1 + lifetime_ms.div_ceil(1000));
        assert!(*writes <= budget, "{writes} writes in {lifetime_ms} ms");
    }
}

#[test]
fn k_instances_admit_at_least_the_limit_and_at_most_the_bound() {
    let mut report = Vec::new();
    for instances in [1, 2, 4, 10] {
        for every_ms in [1, 10, 100] {
            let run = Run {
                instances,
                limit: 100,
                every_ms,
                duration_ms: 60_000,
                settings: ApproximateSettings::default(),
                recycle_after: None,
                clients: 1,
                interleaved: None,
            };
            let out = run.simulate();
            let admitted = out.admitted[0];
            let bound = bound(&run, &out);
            assert!(
                admitted >= run.limit.min(out.sent[0]),
                "{instances} {every_ms}"
            );
            assert!(
                admitted <= bound,
                "{instances} × {every_ms} ms: {admitted} > {bound}"
            );
            check_writes(&run, &out);
            report.push(format!(
                "K={instances} rate={}/s admitted={admitted} bound={bound}",
                1000 / every_ms
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn recycled_instances_add_at_most_their_unsynced_counts() {
    for every_ms in [1, 10, 50] {
        let run = Run {
            instances: 4,
            limit: 100,
            every_ms,
            duration_ms: 60_000,
            settings: ApproximateSettings::default(),
            recycle_after: Some(128),
            clients: 1,
            interleaved: None,
        };
        let out = run.simulate();
        let admitted = out.admitted[0];
        let bound = bound(&run, &out);
        assert!(admitted >= run.limit);
        assert!(
            admitted <= bound + out.lost,
            "{every_ms} ms: {admitted} > {bound} + {}",
            out.lost
        );
        check_writes(&run, &out);
        eprintln!(
            "K=4 recycled every 128 rate={}/s admitted={admitted} bound={bound} lost={}",
            1000 / every_ms,
            out.lost
        );
    }
}

#[test]
fn many_clients_share_the_write_budget_and_stay_within_k_times_the_limit() {
    let run = Run {
        instances: 4,
        limit: 50,
        every_ms: 1,
        duration_ms: 30_000,
        settings: ApproximateSettings::default(),
        recycle_after: None,
        clients: 40,
        interleaved: None,
    };
    let out = run.simulate();
    check_writes(&run, &out);
    for (admitted, sent) in out.admitted.iter().zip(&out.sent) {
        assert!(*admitted >= run.limit.min(*sent));
        assert!(*admitted <= run.instances as u64 * run.limit);
    }
    let total_writes: u64 = out.writes.iter().map(|(w, _)| w).sum();
    assert!(total_writes <= 4 * 5 * 31, "{total_writes}");
    eprintln!(
        "40 clients, K=4: admitted per client {:?}, writes {total_writes}",
        out.admitted.iter().max()
    );
}

#[test]
fn interleaved_instances_with_lost_writes_stay_within_the_bound_plus_one_sync_per_lost_write() {
    for (instances, every_ms, seed) in [(2, 5, 1), (4, 2, 2), (4, 20, 3), (10, 1, 4), (10, 10, 5)] {
        let run = Run {
            instances,
            limit: 100,
            every_ms,
            duration_ms: 60_000,
            settings: ApproximateSettings::default(),
            recycle_after: None,
            clients: 1,
            interleaved: Some(seed),
        };
        let out = run.simulate();
        let admitted = out.admitted[0];
        let bound = bound(&run, &out);
        let r = out
            .times
            .iter()
            .map(|t| most_in(t, run.settings.sync_interval_ms))
            .max()
            .unwrap_or(0);
        let slack = out.lost_writes * r.min(early_sync(run.limit));
        assert!(admitted >= run.limit.min(out.sent[0]));
        assert!(
            admitted <= (bound + slack).min(instances as u64 * run.limit),
            "K={instances}: {admitted} > {bound} + {slack}"
        );
        check_writes(&run, &out);
        eprintln!(
            "interleaved K={instances} mean rate={}/s admitted={admitted} bound={bound} lost writes={}",
            1000 / every_ms,
            out.lost_writes
        );
    }
}

/// A long window with a high limit outlives many recycled instances (Spin
/// recycles one after 128 requests), so its record has more writers than
/// it keeps: the folded ones must not be counted again and again, or a
/// client well under its limit is refused.
#[test]
fn a_record_with_more_writers_than_entries_does_not_refuse_a_client_under_its_limit() {
    let run = Run {
        instances: 4,
        limit: 20_000,
        every_ms: 20,
        duration_ms: 380_000,
        settings: ApproximateSettings::default(),
        recycle_after: Some(128),
        clients: 1,
        interleaved: None,
    };
    let out = run.simulate();
    assert!(out.sent[0] > 130 * 128, "{} sent", out.sent[0]);
    assert!(out.sent[0] < run.limit);
    assert_eq!(out.admitted[0], out.sent[0], "lost {}", out.lost);
    // Past the limit, still within the bound.
    let run = Run {
        duration_ms: 500_000,
        ..run
    };
    let out = run.simulate();
    assert!(out.sent[0] > run.limit);
    let admitted = out.admitted[0];
    assert!(admitted >= run.limit, "{admitted}");
    assert!(admitted <= bound(&run, &out) + out.lost, "{admitted}");
}
