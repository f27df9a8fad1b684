//! One file per view; each renders data the store returned into a whole page.

pub mod lists;
pub mod session;
pub mod sessions;
