//! Tests' scratch directories: each removed when the test is done with it.

use std::ops::Deref;

/// A fresh directory under the system's temporary one, named from `prefix`, removed when
/// dropped.
pub(crate) fn scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a scratch directory")
}

/// A value (a store, a server) using a scratch directory, which is removed after the value is
/// dropped (fields drop in order).
pub(crate) struct InScratch<T> {
    /// The value.
    pub(crate) value: T,
    /// Its directory.
    _dir: tempfile::TempDir,
}

impl<T> InScratch<T> {
    /// `value`, made in `dir`.
    pub(crate) fn new(value: T, dir: tempfile::TempDir) -> Self {
        InScratch { value, _dir: dir }
    }
}

impl<T> Deref for InScratch<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}
