//! `predial check-config`: every trunk profile checked, every problem on its own line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use predial::trunks;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The folder of trunk profiles (one *.toml file per trunk).
    #[arg(long, value_name = "DIR", default_value = "sip-profiles")]
    profiles: PathBuf,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    match trunks::load_dir(&args.profiles) {
        Ok(list) => {
            for t in &list {
                let p = &t.profile;
                let reg = if p.registration.is_some() {
                    "registers"
                } else {
                    "IP peering"
                };
                println!(
                    "{}: {} ({:?}, order {}) {} {:?}, {} channels, {} calls/s, {reg}",
                    t.file.display(),
                    p.name,
                    p.owner,
                    p.order,
                    p.address,
                    p.transport,
                    p.channels,
                    p.cps
                );
            }
            println!("{} trunk profiles, no problems", list.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            println!("{errors}");
            Ok(ExitCode::from(1))
        }
    }
}
