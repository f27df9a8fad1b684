//! scratch
pub mod config;
pub mod finding;
pub mod normalize;
pub mod outcome;
pub mod request;
pub mod body;
pub mod fields;
