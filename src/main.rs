fn main() {
    std::process::exit(startwell::cli::main());
}
