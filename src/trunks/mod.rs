//! Trunks: the lines calls leave by. Profiles (`sip-profiles/*.toml`), their limits (channels,
//! calls per second), their health (registered, failing, set aside) and the order calls try
//! them in.

mod load;
pub mod pool;
pub mod profile;

pub use load::{LoadedTrunk, load_dir};
pub use pool::{Pick, Trunk, TrunkPool, TrunkState};
pub use profile::{Owner, TrunkProfile};
