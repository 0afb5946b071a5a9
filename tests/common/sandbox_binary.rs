//! Finding the `sandbox` example's binary for the tests that drive it. Included with
//! `#[path]` by each such test; not a test of its own.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The example binary, if it is there and up to date.
pub fn sandbox_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("no current exe: {e}"))?;
    // Tests run as target/<profile>/deps/<name>-<hash>; examples sit in target/<profile>/examples.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the test binary is not in target/<profile>/deps")?;
    let bin = profile_dir
        .join("examples")
        .join(format!("sandbox{}", std::env::consts::EXE_SUFFIX));
    let built = modified(&bin).ok_or_else(|| format!("{} is not built", bin.display()))?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest_source = [root.join("examples/sandbox.rs"), root.join("src")]
        .iter()
        .filter_map(|p| newest(p))
        .max();
    if newest_source.is_some_and(|s| s > built) {
        return Err(format!("{} is older than its sources", bin.display()));
    }
    Ok(bin)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

/// The newest modification time of a file, or of anything under a folder.
fn newest(path: &Path) -> Option<SystemTime> {
    let own = modified(path);
    let Ok(entries) = std::fs::read_dir(path) else {
        return own;
    };
    entries
        .filter_map(|e| newest(&e.ok()?.path()))
        .chain(own)
        .max()
}
