//! SIP: placing calls through trunks and answering what arrives, over a SIP stack crate that
//! nothing outside this folder names (see `docs/dependencies.md` for the choice and its risks).

mod agent;
mod call;
pub mod conformance;
pub mod flood;
mod incoming;
mod inspect;
pub mod outcome;
mod register;
mod registrations;
pub mod sdp;
mod source;
pub mod tls;

pub use agent::{SipAgent, SipError, SipOptions, TrunkSource};
pub use call::{
    CallControl, CallEnd, CallEvent, CallUpdate, Credentials, Outbound, Secret, Transport,
};
pub use incoming::{IncomingCall, ServerCall};
pub use outcome::{Ending, TrunkVerdict, classify};
pub use register::{KeepAlive, RegisterTo, Registered, RegistrationState};
pub use tls::{Loaded, TlsFileError, TlsIdentity};
