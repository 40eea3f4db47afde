//! Uncached JWT verification through tokenguard next to the bare aws-lc
//! signature check, measured in alternating rounds.
//!
//! `cargo bench --bench paired` — criterion (`--bench auth`) times the two
//! one after the other, a few seconds each; on a shared VM the machine's
//! speed drifts by several percent between those windows, which is the whole
//! margin of the ≤ 1.1x target. Here every round times a batch of each,
//! back to back, in alternating order, and the ratio is taken per round: a
//! drift slower than a round weighs on both sides alike. Reported: the
//! median per-operation times, the median of the rounds' ratios and its
//! interquartile range.

use std::time::{Duration, Instant};

use tokenguard_testkit::KeyAlg;

#[path = "support/floors.rs"]
mod floors;

/// Rounds per algorithm; each times `BATCH` operations of each kind.
const ROUNDS: usize = 301;
const BATCH: u32 = 50;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick run.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let rounds = if quick { 3 } else { ROUNDS };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    println!("{:<7} {:>14} {:>14} {:>8} {:>17}", "alg", "aws-lc (µs)", "tokenguard", "ratio", "ratio IQR");
    for (name, alg) in [("RS256", KeyAlg::Rs256), ("ES256", KeyAlg::Es256), ("EdDSA", KeyAlg::EdDsa)] {
        let fixture = floors::Fixture::new(&rt, alg);
        let (authenticator, parsed_key, signature) = (&fixture.authenticator, &fixture.parsed_key, &fixture.signature);
        let (credential, signing_input) = (fixture.credential(), fixture.signing_input());

        let ours = || {
            for _ in 0..BATCH {
                let verified = futures::executor::block_on(authenticator.verify(std::hint::black_box(credential)));
                std::hint::black_box(verified.is_ok());
            }
        };
        let floor = || {
            for _ in 0..BATCH {
                let verified = parsed_key.verify_sig(std::hint::black_box(signing_input), signature);
                std::hint::black_box(verified.is_ok());
            }
        };
        // Warm-up: caches, branch predictors, the CPU's clock.
        let warm_up = Instant::now();
        while warm_up.elapsed() < Duration::from_millis(if quick { 10 } else { 500 }) {
            ours();
            floor();
        }
        let (mut ours_times, mut floor_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (ours_time, floor_time) = if round % 2 == 0 {
                let ours_time = timed(ours);
                (ours_time, timed(floor))
            } else {
                let floor_time = timed(floor);
                (timed(ours), floor_time)
            };
            ours_times.push(ours_time);
            floor_times.push(floor_time);
            ratios.push(ours_time / floor_time);
        }
        for times in [&mut ours_times, &mut floor_times, &mut ratios] {
            times.sort_by(f64::total_cmp);
        }
        let per_op = |sorted: &[f64]| quantile(sorted, 0.5) * 1e6 / f64::from(BATCH);
        let (q1, q3) = (quantile(&ratios, 0.25), quantile(&ratios, 0.75));
        println!(
            "{name:<7} {:>14.2} {:>14.2} {:>7.3}x {:>17}",
            per_op(&floor_times),
            per_op(&ours_times),
            quantile(&ratios, 0.5),
            format!("{q1:.3}–{q3:.3}"),
        );
    }
    println!("\nper operation, medians of {rounds} rounds of {BATCH} each; ratio = median of the rounds' ratios");
}

fn timed(batch: impl Fn()) -> f64 {
    let start = Instant::now();
    batch();
    start.elapsed().as_secs_f64()
}

/// The value a fraction `q` of the way through `sorted`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
