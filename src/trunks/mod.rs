//! Trunks: the lines calls leave by. Profiles (`sip-profiles/*.toml`), their limits (channels,
//! calls per second), their health (registered, failing, set aside) and the order calls try
//! them in.

mod load;
pub mod profile;

pub use load::{LoadedTrunk, load_dir};
pub use profile::{Owner, TrunkProfile};
