//! `apitap`: the binary only parses flags and calls the command; see [`apitap::cli`].

/// mimalloc (version 2, with `override`, so it is also librdkafka's `malloc`): transactions
/// allocate and free many small strings on several threads. Why this allocator and this
/// version, with the measurements: docs/bench.md, "Allocator and file buffer".
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(apitap::cli::main());
}
