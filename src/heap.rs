//! Handing memory the allocator holds free back to the system: mimalloc (the
//! binary's allocator, `main.rs`) keeps what is freed on the heap of the thread
//! that allocated it. The scorecard calls [`release_freed`] between views and
//! queries, ingest's reading thread when a file is read, and the async
//! runtime's workers [`release_freed_when_idle`] (`cli::main`).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Give memory that is free but still held by the allocator back to the
/// system. mimalloc (the binary's allocator) keeps freed pages for a second
/// (`MIMALLOC_PURGE_DELAY`, 1000 ms) in case they are wanted again: within a
/// query that saves work, but what one query freed would otherwise still be
/// resident while the next builds its own hash tables and sorts, and the
/// peak would be the sum of the two. Called between views and queries, when
/// the previous one's memory is all free, and by ingest's reading thread when a
/// file is read (`ingest`); a few milliseconds each. It frees what the calling
/// thread's heap holds, and what any thread returned to mimalloc's arenas.
pub fn release_freed() {
    RELEASES.fetch_add(1, Ordering::Relaxed);
    collect();
}

/// How many times [`release_freed`] has been called: each async worker thread
/// compares it with the count it last collected at ([`release_freed_when_idle`]).
static RELEASES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COLLECTED_AT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// For the async runtime's worker threads, each time one goes idle
/// (`on_thread_park`): the first time after each [`release_freed`], the worker
/// gives back what its own heap holds free too. The query engine's tasks run on
/// those workers, so most of what a view or query freed is held there, not by
/// the thread that calls [`release_freed`]; without this it stays resident
/// while the next one builds its own (the national forced scorecard peaked at
/// 484-493 MiB without this, 468 MiB with it). A worker goes idle thousands of
/// times a second: collecting at every one cost 8-15% of the scorecard's time,
/// this costs one atomic read.
pub fn release_freed_when_idle() {
    let releases = RELEASES.load(Ordering::Relaxed);
    COLLECTED_AT.with(|at| {
        if at.get() != releases {
            at.set(releases);
            collect();
        }
    });
}

fn collect() {
    // SAFETY: `mi_collect` takes no pointers; it only frees and decommits
    // memory no allocation refers to. Under another global allocator (the
    // tests) mimalloc holds nothing and it returns at once.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_collects_the_first_time_it_is_idle_after_a_release() {
        release_freed();
        let released = RELEASES.load(Ordering::Relaxed);
        std::thread::spawn(move || {
            // A new thread has collected at no release yet.
            assert_eq!(COLLECTED_AT.with(|at| at.get()), 0);
            release_freed_when_idle();
            // Other tests may release at the same time: at least this one is seen.
            let seen = COLLECTED_AT.with(|at| at.get());
            assert!(seen >= released, "{seen} < {released}");
            release_freed_when_idle();
            assert!(COLLECTED_AT.with(|at| at.get()) >= seen);
        })
        .join()
        .unwrap();
    }
}
