//! The web console.

pub mod charts;
