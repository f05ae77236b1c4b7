//! Gives the memory the allocator keeps after a burst back to the system.
//!
//! glibc's malloc keeps freed memory for later allocations: after a burst of calls (a tokio
//! worker's arena grown by thousands of request buffers) or the tokenizer's many small
//! allocations, the process's RSS stays at its high-water mark although the live heap is
//! back to a few MiB (BENCHMARKS.md run J: RssAnon 28.5 MiB 25 s after 64 clients had closed
//! their sessions, against 5 MiB before they came; 10 MiB with this). `malloc_trim(0)`
//! returns every free page of every arena.
//! A no-op with any other allocator.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often [`trim_periodically`] gives memory back: a burst's excess is gone this long after
/// it ended. A trim walks the free lists (a millisecond or less for this process's heap).
pub const TRIM_EVERY: Duration = Duration::from_secs(20);

/// Returns the allocator's free pages to the system.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims every [`TRIM_EVERY`] (on a blocking thread, so no worker stalls on the arenas'
/// locks) until `stop`. Returns at once where there is nothing to trim.
pub async fn trim_periodically(stop: CancellationToken) {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the first tick is now: nothing to give back yet
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {
                let _ = tokio::task::spawn_blocking(give_back_freed).await;
            }
        }
    }
}
