fn main() {
    syscage::cli::exit(syscage::cli::main_with(std::env::args_os()));
}
