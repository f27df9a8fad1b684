//! `apitap`: the binary only parses flags and calls the command; see [`apitap::cli`].

fn main() {
    std::process::exit(apitap::cli::main());
}
