//! What every test shares, one file per concern:
//! - `db`: `TestDb`, a fresh database per test on `Backend::Sqlite` or `Backend::Postgres`,
//!   and reading rows back;
//! - `process`: `Cmd`, the builder that drives the orch binary and checks what it did, and
//!   pid helpers;
//! - `http`: webhook receivers, the API in this process, `orch serve` as a process;
//! - `pages`: `Visitor`, a person at the pages over HTTP (login, cookie, forms);
//! - `wait`: bounded polling for what another process does;
//! - `browser`: headless Chromium driven over WebDriver, for the browser tests;
//! - `cluster`: a private PostgreSQL cluster a test may stop or cut off;
//! - `netns`: hosts of their own (network namespaces with veth links) on this machine.

pub mod browser;
pub mod cluster;
pub mod db;
pub mod http;
pub mod links;
pub mod netns;
pub mod pages;
pub mod process;
pub mod wait;

pub use db::{Backend, TestDb, assert_excerpt_starts_with, at, by_task, query_strings, seed_task};
pub use process::{Cmd, assert_pid_in_file_gone, orch_bin};
pub use wait::wait_for_status;
