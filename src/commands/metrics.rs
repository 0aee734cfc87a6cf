//! `orch metrics`: the text `GET /metrics` serves, printed once, for machines without
//! `orch serve` (node_exporter's textfile collector reads it from a file).

use crate::error::{Result, code};
use crate::store::Store;
use crate::ui::Output;

pub async fn run(store: &Store, out: Output) -> Result<i32> {
    out.print(&crate::metrics::render(store).await?)?;
    Ok(code::SUCCESS)
}
