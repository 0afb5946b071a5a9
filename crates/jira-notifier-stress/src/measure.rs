//! What the load drivers measure with: a counting allocator, the process's memory, CPU
//! time and latency figures. Included by each driver with `#[path]`; not an example.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

pub struct Counting;

pub static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
pub static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
pub static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE_BYTES.fetch_add(bytes, Relaxed) + bytes;
    PEAK_BYTES.fetch_max(now, Relaxed);
}

// SAFETY: every call is passed straight to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BLOCKS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BLOCKS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE_BYTES.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
pub static ALLOC: Counting = Counting;

/// Live heap (requested bytes, so the allocator's rounding is not in it) and blocks.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // the baseline counts no blocks
pub struct Heap {
    pub bytes: usize,
    pub blocks: usize,
}

#[allow(dead_code)] // the baseline counts no blocks
pub fn heap() -> Heap {
    Heap {
        bytes: LIVE_BYTES.load(Relaxed),
        blocks: LIVE_BLOCKS.load(Relaxed),
    }
}

/// Bytes and blocks freed between two readings (`before` taken first); negative if the
/// heap grew.
#[allow(dead_code)] // the baseline counts no blocks
pub fn freed(before: Heap, after: Heap) -> (i64, i64) {
    (
        before.bytes as i64 - after.bytes as i64,
        before.blocks as i64 - after.blocks as i64,
    )
}

/// User + system CPU time of the whole process, from `/proc/self/stat`.
pub fn cpu_time() -> Duration {
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the `)`.
    Duration::from_secs_f64((ticks(11) + ticks(12)) / ticks_per_sec)
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn proc_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

pub fn kib_to_mib(kib: u64) -> String {
    mib(kib as f64 * 1024.0)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn in_rtts(d: Duration, rtt: Duration) -> String {
    if rtt.is_zero() {
        format!("n/a RTT ({:.3} s)", d.as_secs_f64())
    } else {
        format!(
            "{:.1} RTT ({:.3} s)",
            d.as_secs_f64() / rtt.as_secs_f64(),
            d.as_secs_f64()
        )
    }
}

pub fn message(i: usize, pad_to: usize) -> String {
    let mut m = format!(
        "assertion failed: expected 200, got 500\n  at storm.spec.ts:{}:7",
        i % 997
    );
    while m.len() < pad_to {
        m.push_str("\n  at a frame of a long stack trace (padding)");
    }
    m
}

/// `--rate-limit N/SECS` (or `none`, `0`): the simulated Jira's limit, over every Jira
/// request of the site (it answers with `RateLimit-Reason: jira-quota-tenant-based` and
/// Jira's `X-RateLimit-*` headers).
pub fn rate_limit(v: &str) -> Result<Option<jira_notifier_sim::RateLimit>, String> {
    if v == "none" || v == "0" {
        return Ok(None);
    }
    let (n, secs) = v
        .split_once('/')
        .ok_or(format!("--rate-limit: expected N/SECS, got {v:?}"))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("--rate-limit: {v:?}"))?;
    let secs: f64 = secs
        .trim()
        .parse()
        .map_err(|_| format!("--rate-limit: {v:?}"))?;
    if n == 0 || secs <= 0.0 {
        return Err(format!("--rate-limit: {v:?} allows nothing"));
    }
    Ok(Some(jira_notifier_sim::RateLimit::new(
        n,
        Duration::from_secs_f64(secs),
    )))
}

/// A driver's options: `--name VALUE` or `--name=VALUE`, bare `switches` (given: `"1"`),
/// and `{PREFIX}_{NAME}` environment variables for options not given on the command line.
/// `-h`/`--help` prints `usage` and exits.
pub struct Flags {
    given: BTreeMap<String, String>,
    env_prefix: &'static str,
}

impl Flags {
    pub fn parse(
        env_prefix: &'static str,
        switches: &[&str],
        usage: &str,
    ) -> Result<Flags, String> {
        let mut given = BTreeMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            if a == "-h" || a == "--help" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(flag) = a.strip_prefix("--") else {
                return Err(format!("unknown argument {a:?}\n{usage}"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None if switches.contains(&flag) => (flag.to_owned(), "1".to_owned()),
                None => (
                    flag.to_owned(),
                    args.next().ok_or(format!("{a} needs a value"))?,
                ),
            };
            given.insert(name, value);
        }
        Ok(Flags { given, env_prefix })
    }

    /// The option's value, from the command line or else the environment.
    pub fn get(&self, name: &str) -> Option<String> {
        self.given.get(name).cloned().or_else(|| {
            let env = format!(
                "{}_{}",
                self.env_prefix,
                name.replace('-', "_").to_uppercase()
            );
            std::env::var(env).ok()
        })
    }

    /// A whole-number option, or `default`.
    pub fn num(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.get(name) {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v:?}")),
            None => Ok(default),
        }
    }

    /// Whether a switch is on (given, and not `0`).
    #[allow(dead_code)] // the baseline has no switch
    pub fn on(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "0")
    }

    /// The option names given on the command line.
    #[allow(dead_code)] // only the workspaces driver checks for unknown names
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.given.keys().map(String::as_str)
    }
}
