//! `jira-sim`: the simulated Jira Cloud as a local HTTP server, for processes that cannot
//! link it (the `sandbox` tool, a host's tests in another language).
//!
//! ```text
//! cargo run -p jira-notifier-sim --bin jira-sim -- [--port PORT] [--search-lag-ms MS]
//! ```
//!
//! It prints one line, `listening on http://127.0.0.1:PORT`, then serves until killed. Point
//! both Atlassian base URLs at it (`JIRA_AUTH_URL` and `JIRA_API_URL` for `sandbox`) and use
//! the client id `sim-client-id` with the secret `sim-client-secret`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jira_notifier_sim::{SimJira, SimServer};

fn main() -> ExitCode {
    let mut port = 0u16;
    let mut lag_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let parsed = match (arg.as_str(), value.as_deref()) {
            ("--port", Some(v)) => v.parse().map(|p| port = p).is_ok(),
            ("--search-lag-ms", Some(v)) => v.parse().map(|l| lag_ms = l).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!("usage: jira-sim [--port PORT] [--search-lag-ms MS]");
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jira-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sim = SimJira::new();
        sim.set_search_lag(Duration::from_millis(lag_ms));
        let server = match SimServer::bind(sim, SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("jira-sim: cannot listen on port {port}: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {}", server.url());
        std::future::pending::<()>().await;
        ExitCode::SUCCESS
    })
}
