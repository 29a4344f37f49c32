/// mimalloc returns freed memory to the system promptly, so peak memory stays
/// flat across a long run of many files (glibc's per-thread arenas do not).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
