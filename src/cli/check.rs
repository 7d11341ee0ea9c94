//! `predial check-config`: every trunk profile checked, and the inbound numbers and queues
//! (`inbound.toml`), every problem on its own line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use predial::config::{ConfigError, ConfigErrors};
use predial::{inbound, trunks};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The folder of trunk profiles (one *.toml file per trunk), operators.toml and
    /// inbound.toml.
    #[arg(long, value_name = "DIR", default_value = "sip-profiles")]
    profiles: PathBuf,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut errors = Vec::new();
    let list = match trunks::load_dir(&args.profiles) {
        Ok(list) => list,
        Err(ConfigErrors(e)) => {
            errors.extend(e);
            Vec::new()
        }
    };
    let inbound = match inbound::config::load(&args.profiles) {
        Ok(c) => c,
        Err(ConfigErrors(e)) => {
            errors.extend(e);
            inbound::InboundConfig::default()
        }
    };
    let path = args.profiles.join(inbound::config::FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for (i, n) in inbound.numbers.iter().enumerate() {
        if let Some(t) = &n.trunk
            && !list.iter().any(|l| &l.profile.name == t)
            && errors.is_empty()
        {
            errors.push(ConfigError {
                file: path.clone(),
                line: text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.trim().replace(' ', "") == "[[number]]")
                    .nth(i)
                    .map_or(1, |(n, _)| n + 1),
                field: format!("number[{i}].trunk"),
                message: format!("`{t}`: no trunk profile of that name in this folder"),
            });
        }
    }
    if !errors.is_empty() {
        println!("{}", ConfigErrors(errors));
        return Ok(ExitCode::from(1));
    }
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
    if !inbound.numbers.is_empty() || !inbound.queues.is_empty() {
        for n in &inbound.numbers {
            let to = match &n.target {
                inbound::Target::Queue(q) => format!("queue {q}"),
                inbound::Target::Bot => "the order-status bot".into(),
            };
            println!(
                "{}: number {} ({}) -> {to}",
                path.display(),
                n.number,
                n.trunk.as_deref().unwrap_or("any trunk")
            );
        }
        println!(
            "{} trunk profiles, {} inbound numbers, {} queues, no problems",
            list.len(),
            inbound.numbers.len(),
            inbound.queues.len()
        );
    } else {
        println!("{} trunk profiles, no problems", list.len());
    }
    Ok(ExitCode::SUCCESS)
}
