//! `predial leads import FILE --campaign C`: a CSV or NDJSON file of leads into the store,
//! with a progress bar, a summary, and the lines not taken.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use predial::leads::file::Format;
use predial::leads::import::import;
use predial::leads::intake::Intake;
use predial::store::Store;

#[derive(Subcommand)]
pub enum LeadsCommand {
    /// Import leads from a CSV file (a header naming phone, order_id, name, sum_minor,
    /// time_zone, items; or PHONE[,ORDER_ID[,NAME]] lines) or NDJSON (.ndjson: the API's
    /// fields). Exits 1 when some lines were not leads or had impossible numbers.
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The campaign the leads go to (made with the default policy if it does not exist).
    #[arg(long, value_name = "NAME", default_value = "default")]
    campaign: String,
    /// The data folder (its predial.db is the database).
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
    /// The database instead of DIR/predial.db: postgres://USER@HOST/NAME or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn leads(cmd: LeadsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LeadsCommand::Import(args) => import_file(args),
    }
}

fn import_file(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(&args.file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let store = Store::open(args.database.as_deref(), &args.data).await?;
        let (mut intake, _) = Intake::open(store.clone()).await?;
        let (_, created) = intake.ensure_campaign(&args.campaign).await?;
        if created {
            eprintln!(
                "predial: campaign `{}` did not exist: made it with the default policy",
                args.campaign
            );
        }
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let input = std::io::BufReader::with_capacity(1 << 20, file);
        let report = import(
            &mut intake,
            input,
            Format::of(&args.file),
            &args.campaign,
            |bytes| bar.set_position(bytes),
        )
        .await;
        bar.finish_and_clear();
        store.close().await;
        anyhow::Ok(report?)
    })?;
    let name = args.file.display();
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["file"] = serde_json::json!(name.to_string());
        v["campaign"] = serde_json::json!(args.campaign);
        println!("{v}");
    } else {
        for bad in report.bad_lines.iter().take(50) {
            if bad.field.is_empty() {
                eprintln!("{name}:{}: {}", bad.line, bad.message);
            } else {
                eprintln!("{name}:{}: {}: {}", bad.line, bad.field, bad.message);
            }
        }
        if report.bad_lines.len() > 50 {
            eprintln!(
                "... and {} more (--json lists them)",
                report.bad_lines.len() - 50
            );
        }
        println!(
            "{name}: {} lines: {} accepted, {} duplicates, {} invalid, {} not called by the destination policy ({:.0} leads/s)",
            report.lines,
            report.counts.accepted,
            report.counts.duplicates,
            report.counts.invalid,
            report.counts.destination_refused,
            report.leads_per_s
        );
    }
    Ok(
        if report.counts.invalid + report.counts.destination_refused > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
