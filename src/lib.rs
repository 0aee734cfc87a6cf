//! orch: run nightly automation plans and record every task in a database.
//!
//! The binary (`main.rs`) only parses the command line and exits with the code an error
//! chooses; everything else lives in this library so the tests can drive it directly.

pub mod api;
pub mod backoff;
pub mod cli;
pub mod commands;
pub mod config;
pub mod digest;
pub mod error;
pub mod format;
pub mod identity;
pub mod metrics;
pub mod notify;
pub mod plan;
pub mod runner;
pub mod scope;
pub mod secrets;
pub mod status;
pub mod store;
pub mod sweep;
pub mod ui;
pub mod warning;
pub mod web;
pub mod worker;

pub use error::{Error, Result};
