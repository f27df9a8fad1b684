//! `apitap`: the binary only parses flags and calls the command; see [`apitap::cli`].

/// mimalloc: transactions allocate and free many small strings; glibc's malloc cost about a
/// sixth of replay time in profiles, mimalloc a fraction of that. Built with its `override`
/// feature, it is also the C libraries' `malloc`: librdkafka copies every record and frees it
/// on another thread, which under glibc cost a quarter of the producer's CPU in page faults.
/// Version 2: under the threaded pipeline's cross-thread frees, v3 held three times the memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(apitap::cli::main());
}
