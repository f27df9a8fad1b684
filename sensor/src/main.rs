//! `apitap`: the binary only parses flags and calls the command; see [`apitap::cli`].

/// mimalloc: transactions allocate and free many small strings; glibc's malloc cost about a
/// sixth of replay time in profiles, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(apitap::cli::main());
}
