//! `predial serve`: the control API over the store (leads in, campaigns, tokens, metrics).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use predial::api;
use predial::store::Store;

#[derive(Args)]
pub struct ServeArgs {
    /// The data folder: the SQLite database (predial.db) and admin.token live here.
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
    /// The database instead of DIR/predial.db: postgres://USER@HOST/NAME or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Where the HTTP API listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    http: String,
    /// The folder of trunk profiles (listed by GET /v1/trunks).
    #[arg(long, value_name = "DIR", default_value = "sip-profiles")]
    profiles: PathBuf,
    /// Where SIP listens (UDP and TCP): operators' softphones register here.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:5060")]
    sip_listen: String,
    /// Let an operator register several devices at once (default: one).
    #[arg(long)]
    many_devices: bool,
    /// The first wait before a failed webhook is sent again (it doubles up to an hour).
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    webhook_retry_s: f64,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Store::open(args.database.as_deref(), &args.data).await?;
        let (token, made) = api::admin_token(&args.data)?;
        if made {
            eprintln!(
                "predial: the admin token was written to {} (mode 0600)",
                args.data.join("admin.token").display()
            );
        }
        let mut state = api::state(store.clone(), &token).await?;
        // Profiles are checked as `predial check-config` does; a folder that is not there is
        // no trunk at all (an API-only service).
        let has_trunks = std::fs::read_dir(&args.profiles).is_ok_and(|d| {
            d.filter_map(Result::ok).any(|e| {
                let p = e.path();
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_name().is_some_and(|n| n != "operators.toml")
            })
        });
        if has_trunks {
            let loaded = predial::trunks::load_dir(&args.profiles)?;
            state.trunks = std::sync::Arc::new(loaded.into_iter().map(|t| t.profile).collect());
        }
        if !(args.webhook_retry_s > 0.0 && args.webhook_retry_s <= 3600.0) {
            anyhow::bail!("--webhook-retry-s: use more than 0 and at most 3600 seconds");
        }
        // SIP: the registrar of operators' softphones, with the accounts of the store.
        let sip_listen: std::net::SocketAddr = args.sip_listen.parse().map_err(|_| {
            anyhow::anyhow!("--sip-listen: `{}` is not an address like 0.0.0.0:5060", args.sip_listen)
        })?;
        let secret = predial::crypto::random_bytes::<32>()?;
        let mut registrar = predial::registrar::Registrar::new(secret);
        registrar.many_devices = args.many_devices;
        for (login, md5, sha256) in store.operator_credentials().await? {
            registrar.set_account(
                &login,
                predial::registrar::Account {
                    ha1_md5: md5,
                    ha1_sha256: sha256,
                },
            );
        }
        // Static accounts of sip-profiles/operators.toml join the store's (so their states are
        // kept like the others').
        for op in predial::registrar::accounts::load(&args.profiles)? {
            let account = op.account();
            store
                .add_operator(&predial::store::operators::NewOperator {
                    login: op.login.clone(),
                    name: op.name.clone(),
                    group: op.group.clone(),
                    skills: op.skills.clone(),
                    ha1_md5: account.ha1_md5.clone(),
                    ha1_sha256: account.ha1_sha256.clone(),
                })
                .await?;
            registrar.set_account(&op.login, account);
        }
        let registrar = std::sync::Arc::new(std::sync::Mutex::new(registrar));
        let sip = predial::sip::SipAgent::start(predial::sip::SipOptions {
            listen: sip_listen,
            registrar: Some(registrar.clone()),
            ..predial::sip::SipOptions::default()
        })
        .await?;
        eprintln!("predial: SIP on {} (UDP and TCP): operators register here", sip.local_addr());
        state.registrar = Some(registrar);
        tokio::spawn(predial::api::follow_registrations(state.clone()));
        tokio::spawn(predial::api::events::follow_calls(
            store.clone(),
            state.events.clone(),
        ));
        tokio::spawn(predial::webhooks::deliver_forever(
            store.clone(),
            std::time::Duration::from_secs_f64(args.webhook_retry_s),
        ));
        let listener = tokio::net::TcpListener::bind(&args.http)
            .await
            .map_err(|e| anyhow::anyhow!("--http {}: cannot listen: {e}", args.http))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, database = %store.name, "API listening");
        eprintln!("predial: API on http://{addr}/v1/ (OpenAPI at http://{addr}/openapi.json), database {}", store.name);
        api::serve(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        sip.shutdown();
        store.close().await;
        eprintln!("predial: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
