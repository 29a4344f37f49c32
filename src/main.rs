/// mimalloc returns freed memory to the system promptly, so peak memory stays
/// flat across a long run of many files (glibc's per-thread arenas do not);
/// on Linux, blocks of 4 MiB and more are mapped on their own (see [`huge`]).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: huge::HugeMapped = huge::HugeMapped;
#[cfg(not(target_os = "linux"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Blocks of [`huge::HUGE`] bytes or more (hash tables, sort buffers,
/// concatenated columns) are mapped from the system each on its own and unmapped
/// when freed; everything smaller is mimalloc's. mimalloc keeps what is freed for
/// a second before giving it back, which saves work for small blocks but, for a
/// hash table that doubles as it grows, keeps every earlier size resident
/// beside the new one: the national scorecard's peak was that much higher
/// (README, "Performance"). Growing such a block is `mremap`, which moves pages
/// rather than copying bytes.
#[cfg(target_os = "linux")]
mod huge {
    use std::alloc::{GlobalAlloc, Layout};

    use mimalloc::MiMalloc;

    pub const HUGE: usize = 4 << 20;

    pub struct HugeMapped;

    /// Mapped pages are aligned to at least 4096 bytes.
    fn mapped(size: usize, align: usize) -> bool {
        size >= HUGE && align <= 4096
    }

    fn map(size: usize) -> *mut u8 {
        // SAFETY: a new private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }

    // SAFETY (all four): blocks that `mapped` says are mapped were made by `map`
    // (or `mremap`) with that size, which Rust passes back with the same layout;
    // every other block is mimalloc's, allocated and freed by mimalloc.
    unsafe impl GlobalAlloc for HugeMapped {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if mapped(layout.size(), layout.align()) {
                map(layout.size())
            } else {
                unsafe { MiMalloc.alloc(layout) }
            }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if mapped(layout.size(), layout.align()) {
                // Anonymous mappings are zero-filled.
                map(layout.size())
            } else {
                unsafe { MiMalloc.alloc_zeroed(layout) }
            }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if mapped(layout.size(), layout.align()) {
                unsafe { libc::munmap(ptr.cast(), layout.size()) };
            } else {
                unsafe { MiMalloc.dealloc(ptr, layout) }
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let align = layout.align();
            match (mapped(layout.size(), align), mapped(new_size, align)) {
                (false, false) => unsafe { MiMalloc.realloc(ptr, layout, new_size) },
                (true, true) => {
                    let p =
                        unsafe { libc::mremap(ptr.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE) };
                    if p == libc::MAP_FAILED {
                        std::ptr::null_mut()
                    } else {
                        p.cast()
                    }
                }
                _ => {
                    // Across the threshold: a new block, the bytes copied, the old one freed.
                    // SAFETY: `new_size` is non-zero and, with `align`, a valid layout (GlobalAlloc's contract).
                    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                    let q = unsafe { self.alloc(new_layout) };
                    if !q.is_null() {
                        unsafe {
                            std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                            self.dealloc(ptr, layout);
                        }
                    }
                    q
                }
            }
        }
    }
}

fn main() {
    allocator_options();
    std::process::exit(startwell::cli::main());
}

/// Start again with `MIMALLOC_ARENA_EAGER_COMMIT=0` unless the environment sets it:
/// mimalloc then commits its arenas' memory as it is used and gives freed memory
/// back, instead of committing a whole arena at once and keeping what is freed in
/// it. The national scorecard's peak memory falls by about 15% at no cost in time
/// (README, "Performance"). mimalloc reads its options when the process loads,
/// before `main`, so the setting must be in the environment the program starts
/// with; `exec` replaces this process (same PID, nothing started yet). If it
/// cannot, the program carries on with mimalloc's defaults.
fn allocator_options() {
    #[cfg(unix)]
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        use std::os::unix::process::CommandExt;
        if let Ok(exe) = std::env::current_exe() {
            let _failed = std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
                .exec();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// Blocks below, at and across the mapped threshold keep their bytes
    /// through growing and shrinking (`mremap`, and copies across it).
    #[test]
    fn huge_blocks_keep_their_bytes_through_realloc() {
        let pattern = |i: usize| (i % 251) as u8;
        let mut v: Vec<u8> = (0..1 << 20).map(pattern).collect();
        for size in [3 << 20, 5 << 20, 9 << 20, 64 << 20] {
            v.extend((v.len()..size).map(pattern));
            assert!(v.iter().enumerate().all(|(i, b)| *b == pattern(i)), "{size}");
        }
        v.truncate(2 << 20);
        v.shrink_to_fit();
        assert!(v.iter().enumerate().all(|(i, b)| *b == pattern(i)));
        let zeroed = vec![0u64; 1 << 20];
        assert!(zeroed.iter().all(|x| *x == 0));
        // Over-aligned huge blocks stay mimalloc's.
        let layout = std::alloc::Layout::from_size_align(8 << 20, 1 << 16).unwrap();
        // SAFETY: a non-zero layout, freed with the same layout.
        unsafe {
            let p = std::alloc::alloc(layout);
            assert!(!p.is_null() && (p as usize).is_multiple_of(1 << 16));
            p.write_bytes(7, layout.size());
            std::alloc::dealloc(p, layout);
        }
    }
}
