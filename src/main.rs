fn main() {
    std::process::exit(syscage::cli::main_with(std::env::args_os()));
}
