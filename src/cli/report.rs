//! `predial report --from --to --by ...`: the business's numbers from the store, as a table,
//! CSV or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use predial::reports::{self, By};
use predial::store::Store;

#[derive(Args)]
pub struct ReportArgs {
    /// From this date (2026-11-01: midnight in --tz) or time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    from: String,
    /// Up to (not including) this date or time.
    #[arg(long, value_name = "DATE")]
    to: String,
    /// Rows by.
    #[arg(long, value_enum, default_value = "date")]
    by: By,
    /// The zone dates and hours are counted in.
    #[arg(long, value_name = "ZONE", default_value = "Europe/Moscow")]
    tz: String,
    /// CSV instead of a table.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The data folder (its predial.db is the database).
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
    /// The database instead: postgres://USER@HOST/NAME or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let tz: chrono_tz::Tz = args.tz.parse().map_err(|_| {
        anyhow::anyhow!("--tz: `{}` is not an IANA zone like Europe/Moscow", args.tz)
    })?;
    let from = reports::parse_time(&args.from, tz).map_err(|m| anyhow::anyhow!("--from: {m}"))?;
    let to = reports::parse_time(&args.to, tz).map_err(|m| anyhow::anyhow!("--to: {m}"))?;
    if to <= from {
        anyhow::bail!("--to: give a time after --from");
    }
    if args.database.is_none() && !args.data.join("predial.db").exists() {
        anyhow::bail!(
            "--data {}: no predial.db there (give the data folder of predial serve, or --database)",
            args.data.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let facts = rt
        .block_on(async {
            let store = Store::open(args.database.as_deref(), &args.data).await?;
            let f = store.report_facts(from, to).await;
            store.close().await;
            f
        })
        .context("reading the store")?;
    let (rows, total) = reports::compute(&facts, args.by, tz);
    if args.csv {
        print!("{}", reports::csv(&rows, &total));
    } else if args.json {
        println!(
            "{}",
            serde_json::json!({"from_ms": from, "to_ms": to, "rows": rows, "total": total})
        );
    } else {
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
        println!(
            "{:<18} {:>8} {:>7} {:>6} {:>7} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>9}",
            "group",
            "received",
            "dupl",
            "fakes",
            "contact",
            "approve",
            "valid",
            "upsell",
            "avg check",
            "1st s",
            "accepted",
            "missed"
        );
        for r in rows.iter().chain(std::iter::once(&total)) {
            println!(
                "{:<18} {:>8} {:>7} {:>6} {:>7} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>9}",
                if r.group.is_empty() {
                    "(none)"
                } else {
                    &r.group
                },
                r.received,
                pct(r.duplicates_share),
                pct(r.fakes_share),
                pct(r.contact_rate),
                pct(r.approve_rate),
                pct(r.approve_rate_valid),
                pct(r.upsell_rate),
                r.average_check_minor
                    .map_or("-".into(), |c| format!("{:.2}", c / 100.0)),
                r.lead_to_first_attempt_s
                    .median
                    .map_or("-".into(), |s| format!("{s:.0}")),
                r.calls_accepted,
                r.calls_missed,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
