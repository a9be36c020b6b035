//! A process-wide count of source bytes copied and hashed, for a caller's progress line.
//!
//! The writers only count; nothing here prints or looks at a terminal. A program that wants a
//! progress line reads [`progress_bytes`] from another thread (`depclose-cli` does so when
//! stderr is a terminal and the plan is large).

use std::sync::atomic::{AtomicU64, Ordering};

static DONE: AtomicU64 = AtomicU64::new(0);

/// Count `n` more bytes read from sources (copied into an output or hashed).
pub(super) fn add(n: u64) {
    DONE.fetch_add(n, Ordering::Relaxed);
}

/// Source bytes the writers of this process have copied or hashed so far (every output
/// counts: a file written to a tarball and hashed for a manifest counts twice; compare with
/// [`Rootfs::content_bytes`](super::Rootfs::content_bytes) times the number of outputs that
/// read contents).
pub fn progress_bytes() -> u64 {
    DONE.load(Ordering::Relaxed)
}
