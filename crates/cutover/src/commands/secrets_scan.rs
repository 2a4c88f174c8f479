//! `cutover secrets scan` (being written).

use crate::CliError;
use crate::cli::ScanArgs;
use crate::context::Ctx;

pub fn exec(_ctx: &Ctx<'_>, _args: &ScanArgs) -> Result<(), CliError> {
    Err(CliError::Usage("not built yet".into()))
}
