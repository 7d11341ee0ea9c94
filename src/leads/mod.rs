//! Leads coming in: checked, deduplicated and stored (`intake`), from files (`file`, `import`)
//! and from the API.

pub mod file;
pub mod import;
pub mod intake;
