/// mimalloc returns freed memory to the system promptly, so peak memory stays
/// flat across a long run of many files (glibc's per-thread arenas do not).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(startwell::cli::main());
}
