//! Command-line clients that run beside the server, not in it.
//!
//! - [`admin`]: `enrolld admin …`, a thin client of the admin REST API (`/api/v1`) for scripts
//!   that would rather not assemble curl calls: one subcommand per endpoint, the JSON answer
//!   on stdout, the problem document's detail on stderr and an exit status by error class.

pub mod admin;
pub mod calls;
pub mod commands;
mod query;
