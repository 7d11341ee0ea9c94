//! Criterion benchmarks of the scheduler's hot paths, on 200,000 queued leads (the full-size run
//! is `predial bench scheduler --leads 1000000`; see docs/benchmarks.md).
//!
//! Each sample runs rounds of "one simulated second": a tick, the dials it allows (1,000
//! operators), and the calls ending at once. Only the part named by the benchmark is timed.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use predial::bench::scheduler::{bench_start, end_calls, loaded, take_dials};
use predial_core::acd::OperatorId;
use predial_core::dialer::{AttemptId, Event};
use predial_core::{Scheduler, Timestamp};

const LEADS: u64 = 200_000;
const OPERATORS: u32 = 1_000;

struct Rig {
    s: Scheduler,
    now: Timestamp,
    calls: Vec<AttemptId>,
    rounds: u32,
}

impl Rig {
    fn new() -> Rig {
        let (mut s, _) = loaded(LEADS, OPERATORS, false);
        let now = bench_start();
        for op in 0..OPERATORS {
            s.handle(
                now,
                Event::OperatorReady {
                    operator: OperatorId(op + 1),
                },
            )
            .unwrap();
        }
        Rig {
            s,
            now,
            calls: Vec::new(),
            rounds: 0,
        }
    }

    /// A fresh rig every two simulated hours, so the queue stays full.
    fn renew_if_old(&mut self) {
        self.rounds += 1;
        if self.rounds > 7200 {
            *self = Rig::new();
        }
    }
}

fn scheduler(c: &mut Criterion) {
    let mut g = c.benchmark_group("scheduler");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let mut rig = Rig::new();

    g.bench_function("tick_with_200k_queued", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rig.renew_if_old();
                rig.now = rig.now.plus_millis(1000);
                let t = Instant::now();
                rig.s.handle(rig.now, Event::Tick).unwrap();
                take_dials(&mut rig.s, &mut rig.calls);
                spent += t.elapsed();
                end_calls(&mut rig.s, rig.now, &mut rig.calls);
            }
            spent
        })
    });

    g.bench_function("dial_decision", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                rig.renew_if_old();
                rig.now = rig.now.plus_millis(1000);
                rig.s.handle(rig.now, Event::Tick).unwrap();
                let t = Instant::now();
                take_dials(&mut rig.s, &mut rig.calls);
                spent += t.elapsed();
                done += (rig.calls.len() as u64).max(1);
                end_calls(&mut rig.s, rig.now, &mut rig.calls);
            }
            // Per decision.
            spent.mul_f64(iters as f64 / done as f64)
        })
    });

    g.bench_function("attempt_finished_event", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                rig.renew_if_old();
                rig.now = rig.now.plus_millis(1000);
                rig.s.handle(rig.now, Event::Tick).unwrap();
                take_dials(&mut rig.s, &mut rig.calls);
                let t = Instant::now();
                done += end_calls(&mut rig.s, rig.now, &mut rig.calls).max(1);
                spent += t.elapsed();
            }
            spent.mul_f64(iters as f64 / done as f64)
        })
    });
    g.finish();
}

criterion_group!(benches, scheduler);
criterion_main!(benches);
