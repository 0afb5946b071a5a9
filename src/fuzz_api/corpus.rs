//! The fuzz targets under plain `cargo test`: the checked-in corpus in `fuzz/corpus/` as
//! regression tests, and a seeded pseudo-random loop over every target, through the same
//! functions the cargo-fuzz targets call (`fuzz/harness.rs`).
//!
//! Corpus file names say what the target's reader must do with them: `ok-*` is accepted,
//! `err-*` refused with a typed error; any other name (a mutated variant, or a file that
//! `cargo fuzz` added) must only not panic. Every file also goes through every other
//! target, which must not panic either.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use harness::{Target, TARGETS};
use jira_notifier::{
    Credentials, Error, HttpRequest, HttpResponse, HttpTransport, JiraNotifier, MemoryStore,
    TransportError,
};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
}

/// Every corpus file, by target, sorted by name.
fn corpus() -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(corpus_dir()).expect("fuzz/corpus exists") {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let target = entry.file_name().into_string().unwrap();
        let mut files = Vec::new();
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            let name = file.file_name().into_string().unwrap();
            files.push((name, std::fs::read(file.path()).unwrap()));
        }
        files.sort();
        all.insert(target, files);
    }
    all
}

fn target(name: &str) -> Target {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("fuzz/corpus/{name} is not a fuzz target"))
}

/// Runs a target, turning a panic into a description of it.
fn run(target: Target, data: &[u8]) -> Result<bool, String> {
    catch_unwind(AssertUnwindSafe(|| target(data))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".into())
    })
}

#[test]
fn every_target_has_a_corpus_with_good_and_bad_files() {
    let corpus = corpus();
    for (name, _) in TARGETS {
        let files = corpus
            .get(*name)
            .unwrap_or_else(|| panic!("no fuzz/corpus/{name}"));
        assert!(
            files.iter().any(|(f, _)| f.starts_with("ok-")),
            "{name}: no ok- file"
        );
        assert!(
            files.iter().any(|(f, _)| f.starts_with("err-")),
            "{name}: no err- file"
        );
    }
    for name in corpus.keys() {
        target(name);
    }
}

#[test]
fn corpus_files_are_accepted_or_refused_as_named() {
    let mut wrong = Vec::new();
    for (name, files) in corpus() {
        let t = target(&name);
        for (file, data) in files {
            let expected = if file.starts_with("ok-") {
                Some(true)
            } else if file.starts_with("err-") {
                Some(false)
            } else {
                None
            };
            match run(t, &data) {
                Err(panic) => wrong.push(format!("{name}/{file}: panicked: {panic}")),
                Ok(accepted) if expected.is_some_and(|e| e != accepted) => wrong.push(format!(
                    "{name}/{file}: {}",
                    if accepted { "accepted" } else { "refused" }
                )),
                Ok(_) => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_corpus_file_goes_through_every_target() {
    let mut panics = Vec::new();
    for (name, files) in corpus() {
        for (file, data) in files {
            for (other, t) in TARGETS {
                if let Err(panic) = run(*t, &data) {
                    panics.push(format!("{name}/{file} through {other}: {panic}"));
                }
            }
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

// ---------------------------------------------------------------------------------------
// A seeded pseudo-random loop: the same inputs on every run.

/// Inputs per target.
const RANDOM_INPUTS: usize = 3_000;

/// splitmix64: small, seeded, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces of JSON (and of the other inputs) that random bytes rarely hit.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud83d",
    "\\ude00",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "99999999999999999999",
    "\"access_token\"",
    "\"expires_in\"",
    "\"id\"",
    "\"key\"",
    "\"name\"",
    "\"url\"",
    "\"scopes\"",
    "\"issues\"",
    "\"fields\"",
    "\"status\"",
    "\"statusCategory\"",
    "\"done\"",
    "\"labels\"",
    "\"values\"",
    "\"isLast\"",
    "\"total\"",
    "\"issueTypes\"",
    "\"subtask\"",
    "\"accountId\"",
    "\"displayName\"",
    "\"active\"",
    "\"errorMessages\"",
    "\"errors\"",
    "\"error\"",
    "\"error_description\"",
    "\"message\"",
    "\"detail\"",
    "\"https://a.atlassian.net\"",
    "\"QA-12\"",
    "\"10068\"",
    "\"read:jira-work\"",
    "<title>",
    "</title>",
    "429 ",
    "\n",
    " ",
    "GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "😀",
    "\u{2028}",
];

fn random_input(rng: &mut Rng, seeds: &[&[u8]]) -> Vec<u8> {
    match rng.below(4) {
        // Raw bytes.
        0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        // A soup of tokens.
        1 => {
            let mut out = Vec::new();
            for _ in 0..rng.below(40) {
                out.extend_from_slice(rng.pick(TOKENS).as_bytes());
            }
            out
        }
        // A corpus file, mutated a few times.
        _ => {
            let mut out = rng.pick(seeds).to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(out.len() + 1);
                match rng.below(5) {
                    0 if !out.is_empty() => {
                        let i = rng.below(out.len());
                        out[i] ^= 1 << rng.below(8);
                    }
                    1 => out.truncate(at),
                    2 => {
                        let t = rng.pick(TOKENS).as_bytes();
                        out.splice(at..at, t.iter().copied());
                    }
                    3 if !out.is_empty() => {
                        let end = (at + rng.below(16)).min(out.len());
                        out.drain(at.min(end)..end);
                    }
                    _ => {
                        let other = rng.pick(seeds);
                        let from = rng.below(other.len() + 1);
                        out.splice(at..at, other[from..].iter().copied());
                    }
                }
            }
            out
        }
    }
}

#[test]
fn seeded_random_inputs_never_panic() {
    let corpus = corpus();
    let seeds: Vec<&[u8]> = corpus
        .values()
        .flatten()
        .map(|(_, d)| d.as_slice())
        // The deep-nesting files are large; mutating them says little more.
        .filter(|d| d.len() < 4_096)
        .collect();
    let mut panics = Vec::new();
    for (i, (name, t)) in TARGETS.iter().enumerate() {
        let mut rng = Rng(0x6a69_7261 ^ ((i as u64) << 32));
        let own: Vec<&[u8]> = corpus[*name]
            .iter()
            .map(|(_, d)| d.as_slice())
            .filter(|d| d.len() < 4_096)
            .collect();
        for n in 0..RANDOM_INPUTS {
            // Mostly the target's own corpus, sometimes any target's.
            let pool = if n % 4 == 0 { &seeds } else { &own };
            let input = random_input(&mut rng, pool);
            if let Err(panic) = run(*t, &input) {
                panics.push(format!(
                    "{name} input {n} {:?}: {panic}",
                    String::from_utf8_lossy(&input)
                ));
                if panics.len() > 5 {
                    break;
                }
            }
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Found by the corpus: the same answers through the public API.

/// Answers the token request and site discovery with canned answers.
#[derive(Debug)]
struct Canned {
    token: HttpResponse,
    sites: HttpResponse,
}

#[async_trait]
impl HttpTransport for Canned {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.url.path().ends_with("/accessible-resources") {
            Ok(self.sites.clone())
        } else {
            Ok(self.token.clone())
        }
    }
}

fn notifier(transport: Canned) -> JiraNotifier {
    JiraNotifier::builder(Arc::new(MemoryStore::new()))
        .transport(transport)
        .build()
        .unwrap()
}

const ONE_SITE: &str = r#"[{"id":"abc-1","name":"acme","url":"https://acme.atlassian.net","scopes":["read:jira-work"]}]"#;

/// `corpus/token/ok-expires-u64-max.json`: the token cache added the stated lifetime to
/// the clock and overflowed it ("overflow when adding duration to instant").
#[tokio::test]
async fn a_token_with_an_absurd_lifetime_is_used() {
    for expires_in in ["18446744073709551615", "9223372036854775808"] {
        let n = notifier(Canned {
            token: HttpResponse::json(
                200,
                format!(r#"{{"access_token":"t0k3n","expires_in":{expires_in}}}"#),
            ),
            sites: HttpResponse::json(200, ONE_SITE),
        });
        let site = n
            .connect(Credentials::new("id", "secret".to_owned()))
            .await
            .unwrap();
        assert_eq!(site.cloud_id, "abc-1");
    }
}

/// `corpus/api_error/ok-429-retry-huge`: a 429 holds every request back for its
/// `Retry-After`, and the request gate added it to the clock and overflowed it.
#[tokio::test]
async fn a_429_with_an_absurd_retry_after_is_an_error_not_a_panic() {
    for retry_after in ["99999999999999999999", "9223372036854775808"] {
        let n = notifier(Canned {
            token: HttpResponse::json(200, r#"{"access_token":"t0k3n","expires_in":3600}"#),
            sites: HttpResponse::json(429, "{}").with_header("Retry-After", retry_after),
        });
        let err = n
            .discover_sites(&Credentials::new("id", "secret".to_owned()))
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Api(e) if e.status == 429), "{err:?}");
        assert!(err.is_retryable());
        assert!(err.retry_after() > Some(Duration::from_secs(1 << 62)));
    }
}
