//! `predial serve`: the engine (campaigns of the store dialled through the trunks, answered
//! calls bridged to operators on softphones), the registrar of those softphones on SIP, and the
//! control API over the store (leads in, campaigns, tokens, operators, reports, metrics).
//! Settings come from flags, else from `--config FILE` (`[serve]`), else from the defaults.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use predial::api;
use predial::config::ConfigFile;
use predial::engine::media::MediaConfig;
use predial::engine::{Service, ServiceConfig};
use predial::media::phrases::{Lang, Prompts};
use predial::store::Store;
use serde::Deserialize;

#[derive(Args)]
pub struct ServeArgs {
    /// Settings under `[serve]` in this TOML file (the flags below, by the same names with `_`;
    /// a flag given wins over the file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data folder: the SQLite database (predial.db), admin.token and recordings live here
    /// [default: data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The database instead of DIR/predial.db: postgres://USER@HOST/NAME or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Where the HTTP API listens [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// The folder of trunk profiles (and operators.toml) [default: sip-profiles].
    #[arg(long, value_name = "DIR")]
    profiles: Option<PathBuf>,
    /// Where SIP listens, UDP and TCP: trunks' calls and operators' softphones
    /// [default: 0.0.0.0:5060].
    #[arg(long, value_name = "ADDR")]
    sip_listen: Option<String>,
    /// SIP over WebSocket (RFC 7118) on this address too, for browser phones (default: off).
    #[arg(long, value_name = "ADDR")]
    ws_listen: Option<String>,
    /// SIP over TLS on this address too, for remote softphones, usually port 5061
    /// (default: off; needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR")]
    sips_listen: Option<String>,
    /// SIP over WebSocket over TLS (wss) on this address too, for browser phones, for instance
    /// port 7443 (default: off; needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR")]
    wss_listen: Option<String>,
    /// The certificate chain (PEM, leaf first; Let's Encrypt: fullchain.pem) for
    /// --sips-listen and --wss-listen; read again on SIGHUP.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM; Let's Encrypt: privkey.pem); read again on SIGHUP.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Let an operator register several devices at once (default: one).
    #[arg(long)]
    many_devices: bool,
    /// SIP messages and new connections a second one address may send (trunks are not
    /// limited) [default: 100].
    #[arg(long, value_name = "N")]
    sip_rate: Option<f64>,
    /// How many above that rate may come at once [default: 400].
    #[arg(long, value_name = "N")]
    sip_burst: Option<f64>,
    /// TCP, TLS and WebSocket connections one address may hold [default: 256].
    #[arg(long, value_name = "N")]
    sip_connections_per_source: Option<usize>,
    /// The first wait before a failed webhook is sent again (it doubles up to an hour)
    /// [default: 10].
    #[arg(long, value_name = "S")]
    webhook_retry_s: Option<f64>,
    /// How long an operator's phone may ring before the call goes to the next operator and
    /// they are set not ready [default: 4].
    #[arg(long, value_name = "S")]
    answer_timeout_s: Option<f64>,
    /// A callback keyed on the operator's phone (3) is agreed for this many seconds later
    /// [default: 3600].
    #[arg(long, value_name = "S")]
    dtmf_callback_after_s: Option<f64>,
    /// Record bridged calls here [default: DATA/recordings].
    #[arg(long, value_name = "DIR")]
    recordings: Option<PathBuf>,
    /// Delete recordings older than this many days [default: 30].
    #[arg(long, value_name = "DAYS")]
    keep_recordings_days: Option<u32>,
    /// RTP ports, FIRST-LAST (even ports are used) [default: 20000-29998].
    #[arg(long, value_name = "FIRST-LAST")]
    rtp_ports: Option<String>,
    /// The prompts folder (sounds/<lang>/*.wav) [default: the shipped prompts].
    #[arg(long, value_name = "DIR")]
    sounds: Option<PathBuf>,
    /// The language of the prompts, ru or en [default: ru].
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// The number the abandoned-call message gives to call back.
    #[arg(long, value_name = "NUMBER")]
    callback_number: Option<String>,
    /// The largest bulk lead upload (`/v1/leads:bulk`), bytes: more is answered 413
    /// [default: 16777216, 16 MiB].
    #[arg(long, value_name = "BYTES")]
    bulk_body_limit: Option<usize>,
    /// The largest body of any other request, bytes [default: 1048576, 1 MiB].
    #[arg(long, value_name = "BYTES")]
    body_limit: Option<usize>,
    /// A request not answered within this many seconds gets 408 (the event stream is exempt)
    /// [default: 60].
    #[arg(long, value_name = "S")]
    request_timeout_s: Option<f64>,
    /// An API connection with nothing going on for this many seconds is closed [default: 60].
    #[arg(long, value_name = "S")]
    idle_timeout_s: Option<f64>,
    /// API connections open at once at most; more are answered 503 [default: 1024].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// `GET /metrics` needs `Authorization: Bearer TOKEN` (default: open, on the API's address).
    #[arg(long, value_name = "TOKEN")]
    metrics_token: Option<String>,
    /// Webhook URLs may be http:// (default: https:// only).
    #[arg(long)]
    webhook_allow_http: bool,
    /// Webhook URLs may point at loopback, private and link-local addresses: an on-site CRM
    /// (default: refused).
    #[arg(long)]
    webhook_allow_private: bool,
}

/// `[serve]` of the config file: the flags' settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    data: Option<PathBuf>,
    database: Option<String>,
    http: Option<String>,
    profiles: Option<PathBuf>,
    sip_listen: Option<String>,
    ws_listen: Option<String>,
    sips_listen: Option<String>,
    wss_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    many_devices: bool,
    sip_rate: Option<f64>,
    sip_burst: Option<f64>,
    sip_connections_per_source: Option<usize>,
    webhook_retry_s: Option<f64>,
    answer_timeout_s: Option<f64>,
    dtmf_callback_after_s: Option<f64>,
    recordings: Option<PathBuf>,
    keep_recordings_days: Option<u32>,
    rtp_ports: Option<String>,
    sounds: Option<PathBuf>,
    lang: Option<String>,
    callback_number: Option<String>,
    bulk_body_limit: Option<usize>,
    body_limit: Option<usize>,
    request_timeout_s: Option<f64>,
    idle_timeout_s: Option<f64>,
    max_connections: Option<usize>,
    metrics_token: Option<String>,
    webhook_allow_http: bool,
    webhook_allow_private: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    #[serde(default)]
    serve: Settings,
}

/// Where the settings came from, to point at one in an error: its flag, or its file's line.
struct Origin {
    file: Option<ConfigFile>,
    /// The settings given as flags.
    flags: Vec<&'static str>,
}

impl Origin {
    /// An error about setting `key`: `FILE:LINE: serve.KEY: ...` when the file set it, else
    /// `--KEY: ...`.
    fn error(&self, key: &str, message: &str) -> anyhow::Error {
        let field = format!("serve.{key}");
        match &self.file {
            Some(file)
                if !self.flags.contains(&key)
                    && predial::config::find_line(&file.text, &field).is_some() =>
            {
                file.error(&field, message).into()
            }
            _ => anyhow::anyhow!("--{}: {message}", key.replace('_', "-")),
        }
    }
}

/// The flags over the file's settings.
fn settings(args: ServeArgs) -> anyhow::Result<(Settings, Origin)> {
    let (file, config) = match &args.config {
        Some(path) => {
            let config = ConfigFile::read(path)?;
            (config.parse::<ServeFile>()?.serve, Some(config))
        }
        None => (Settings::default(), None),
    };
    let given = [
        ("sip_listen", args.sip_listen.is_some()),
        ("ws_listen", args.ws_listen.is_some()),
        ("sips_listen", args.sips_listen.is_some()),
        ("wss_listen", args.wss_listen.is_some()),
        ("tls_cert", args.tls_cert.is_some()),
        ("tls_key", args.tls_key.is_some()),
    ];
    let origin = Origin {
        file: config,
        flags: given.iter().filter(|(_, g)| *g).map(|(k, _)| *k).collect(),
    };
    let settings = Settings {
        data: args.data.or(file.data),
        database: args.database.or(file.database),
        http: args.http.or(file.http),
        profiles: args.profiles.or(file.profiles),
        sip_listen: args.sip_listen.or(file.sip_listen),
        ws_listen: args.ws_listen.or(file.ws_listen),
        sips_listen: args.sips_listen.or(file.sips_listen),
        wss_listen: args.wss_listen.or(file.wss_listen),
        tls_cert: args.tls_cert.or(file.tls_cert),
        tls_key: args.tls_key.or(file.tls_key),
        many_devices: args.many_devices || file.many_devices,
        sip_rate: args.sip_rate.or(file.sip_rate),
        sip_burst: args.sip_burst.or(file.sip_burst),
        sip_connections_per_source: args
            .sip_connections_per_source
            .or(file.sip_connections_per_source),
        webhook_retry_s: args.webhook_retry_s.or(file.webhook_retry_s),
        answer_timeout_s: args.answer_timeout_s.or(file.answer_timeout_s),
        dtmf_callback_after_s: args.dtmf_callback_after_s.or(file.dtmf_callback_after_s),
        recordings: args.recordings.or(file.recordings),
        keep_recordings_days: args.keep_recordings_days.or(file.keep_recordings_days),
        rtp_ports: args.rtp_ports.or(file.rtp_ports),
        sounds: args.sounds.or(file.sounds),
        lang: args.lang.or(file.lang),
        callback_number: args.callback_number.or(file.callback_number),
        bulk_body_limit: args.bulk_body_limit.or(file.bulk_body_limit),
        body_limit: args.body_limit.or(file.body_limit),
        request_timeout_s: args.request_timeout_s.or(file.request_timeout_s),
        idle_timeout_s: args.idle_timeout_s.or(file.idle_timeout_s),
        max_connections: args.max_connections.or(file.max_connections),
        metrics_token: args.metrics_token.or(file.metrics_token),
        webhook_allow_http: args.webhook_allow_http || file.webhook_allow_http,
        webhook_allow_private: args.webhook_allow_private || file.webhook_allow_private,
    };
    Ok((settings, origin))
}

/// An optional listening address; `example` is shown when it is not one.
fn address(
    origin: &Origin,
    key: &str,
    text: Option<&str>,
    example: &str,
) -> anyhow::Result<Option<std::net::SocketAddr>> {
    let Some(text) = text else { return Ok(None) };
    text.parse()
        .map(Some)
        .map_err(|_| origin.error(key, &format!("`{text}` is not an address like {example}")))
}

/// The certificate for SIP over TLS and WebSocket over TLS, when either is asked for: both
/// files given and readable, the key the certificate's.
fn tls_identity(
    s: &Settings,
    origin: &Origin,
) -> anyhow::Result<Option<std::sync::Arc<predial::sip::TlsIdentity>>> {
    let wanted = s.sips_listen.is_some() || s.wss_listen.is_some();
    let (cert, key) = match (&s.tls_cert, &s.tls_key, wanted) {
        (None, None, false) => return Ok(None),
        (Some(cert), Some(key), true) => (cert, key),
        (_, _, false) => {
            let key = if s.tls_cert.is_some() {
                "tls_cert"
            } else {
                "tls_key"
            };
            return Err(origin.error(
                key,
                "a certificate is used only by sips_listen and wss_listen: set --sips-listen or --wss-listen too, or leave it out",
            ));
        }
        (None, _, true) | (_, None, true) => {
            let listen = if s.sips_listen.is_some() {
                "sips_listen"
            } else {
                "wss_listen"
            };
            return Err(origin.error(
                listen,
                "SIP over TLS needs a certificate: give --tls-cert FILE (the PEM chain, Let's Encrypt's fullchain.pem) and --tls-key FILE (its private key, privkey.pem); docs/tls.md says how to get one",
            ));
        }
    };
    let (identity, loaded) = predial::sip::TlsIdentity::load(cert, key).map_err(|e| {
        let which = if e.0.starts_with(&cert.display().to_string()) {
            "tls_cert"
        } else {
            "tls_key"
        };
        origin.error(which, &e.0)
    })?;
    eprintln!(
        "predial: TLS certificate {} ({loaded}); SIGHUP reads it again",
        cert.display()
    );
    Ok(Some(identity))
}

/// Reads the certificate files again at each SIGHUP: new TLS connections get the new pair,
/// open ones keep theirs; a pair that cannot be used leaves the old one, and says why.
fn reload_on_hangup(
    identity: Option<std::sync::Arc<predial::sip::TlsIdentity>>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(identity) = &identity else {
                eprintln!("predial: SIGHUP: no TLS certificate to read again");
                continue;
            };
            let (cert, _) = identity.files();
            match identity.reload() {
                Ok(loaded) => {
                    tracing::info!(cert = %cert.display(), %loaded, "TLS certificate reloaded");
                    eprintln!(
                        "predial: SIGHUP: TLS certificate {} reloaded ({loaded})",
                        cert.display()
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate not reloaded");
                    eprintln!("predial: SIGHUP: kept the TLS certificate in use: {e}");
                }
            }
        }
    });
    Ok(())
}

/// The per-source SIP limits, checked.
fn flood_limits(s: &Settings) -> anyhow::Result<predial::sip::flood::FloodLimits> {
    let d = predial::sip::flood::FloodLimits::default();
    let limits = predial::sip::flood::FloodLimits {
        per_second: s.sip_rate.unwrap_or(d.per_second),
        burst: s.sip_burst.unwrap_or(d.burst),
        connections: s.sip_connections_per_source.unwrap_or(d.connections),
    };
    if !(1.0..=100_000.0).contains(&limits.per_second) {
        anyhow::bail!("sip_rate: use 1 to 100000 messages a second");
    }
    if !(1.0..=1_000_000.0).contains(&limits.burst) {
        anyhow::bail!("sip_burst: use 1 to 1000000 messages");
    }
    if !(1..=100_000).contains(&limits.connections) {
        anyhow::bail!("sip_connections_per_source: use 1 to 100000 connections");
    }
    Ok(limits)
}

/// The API's limits and policies, checked.
fn edge_settings(s: &Settings) -> anyhow::Result<api::edge::EdgeSettings> {
    let d = api::edge::EdgeSettings::default();
    let bytes = |name: &str, v: Option<usize>, default: usize| match v {
        Some(n) if n < 1024 => anyhow::bail!("{name}: at least 1024 bytes"),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    let seconds = |name: &str, v: Option<f64>, default: Duration| match v {
        Some(x) if !(1.0..=86_400.0).contains(&x) => {
            anyhow::bail!("{name}: use 1 to 86400 seconds")
        }
        Some(x) => Ok(Duration::from_secs_f64(x)),
        None => Ok(default),
    };
    let metrics_token = match s.metrics_token.as_deref().map(str::trim) {
        Some(t) if t.len() < 16 => {
            anyhow::bail!(
                "metrics_token: at least 16 characters (e.g. from `openssl rand -hex 32`)"
            )
        }
        t => t.map(str::to_string),
    };
    Ok(api::edge::EdgeSettings {
        bulk_body_max: bytes("bulk_body_limit", s.bulk_body_limit, d.bulk_body_max)?,
        body_max: bytes("body_limit", s.body_limit, d.body_max)?,
        request_timeout: seconds("request_timeout_s", s.request_timeout_s, d.request_timeout)?,
        idle_timeout: seconds("idle_timeout_s", s.idle_timeout_s, d.idle_timeout)?,
        max_connections: match s.max_connections {
            Some(0) => anyhow::bail!("max_connections: at least 1"),
            Some(n) => n,
            None => d.max_connections,
        },
        metrics_token,
        webhook_urls: predial::webhooks::url::UrlPolicy {
            allow_http: s.webhook_allow_http,
            allow_private: s.webhook_allow_private,
        },
    })
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (s, origin) = settings(args)?;
    let data = s.data.clone().unwrap_or_else(|| PathBuf::from("data"));
    let profiles = s
        .profiles
        .clone()
        .unwrap_or_else(|| PathBuf::from("sip-profiles"));
    let http = s.http.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
    let sip_text = s
        .sip_listen
        .clone()
        .unwrap_or_else(|| "0.0.0.0:5060".into());
    let sip_listen = address(&origin, "sip_listen", Some(&sip_text), "0.0.0.0:5060")?
        .expect("an address was given");
    let ws_listen = address(&origin, "ws_listen", s.ws_listen.as_deref(), "0.0.0.0:5066")?;
    let sips_listen = address(
        &origin,
        "sips_listen",
        s.sips_listen.as_deref(),
        "0.0.0.0:5061",
    )?;
    let wss_listen = address(
        &origin,
        "wss_listen",
        s.wss_listen.as_deref(),
        "0.0.0.0:7443",
    )?;
    let tls_identity = tls_identity(&s, &origin)?;
    let webhook_retry_s = s.webhook_retry_s.unwrap_or(10.0);
    if !(webhook_retry_s > 0.0 && webhook_retry_s <= 3600.0) {
        anyhow::bail!("webhook_retry_s: use more than 0 and at most 3600 seconds");
    }
    let answer_timeout_s = s.answer_timeout_s.unwrap_or(4.0);
    if !(1.0..=30.0).contains(&answer_timeout_s) {
        anyhow::bail!("answer_timeout_s: use 1 to 30 seconds");
    }
    let dtmf_callback_after_s = s.dtmf_callback_after_s.unwrap_or(3600.0);
    if !(1.0..=30.0 * 86_400.0).contains(&dtmf_callback_after_s) {
        anyhow::bail!("dtmf_callback_after_s: use 1 second to 30 days");
    }
    let edge = edge_settings(&s)?;
    let flood = flood_limits(&s)?;
    let webhook_urls = edge.webhook_urls;
    let lang_text = s.lang.clone().unwrap_or_else(|| "ru".into());
    let media = MediaConfig {
        ports: super::dial::rtp_ports(
            "rtp_ports",
            s.rtp_ports.as_deref().unwrap_or("20000-29998"),
        )?,
        recordings: Some(
            s.recordings
                .clone()
                .unwrap_or_else(|| data.join("recordings")),
        ),
        keep_recordings: Duration::from_secs(
            u64::from(s.keep_recordings_days.unwrap_or(30).max(1)) * 86_400,
        ),
        prompts: s
            .sounds
            .as_deref()
            .map_or_else(Prompts::shipped, Prompts::new),
        lang: Lang::parse(&lang_text)
            .ok_or_else(|| anyhow::anyhow!("lang: `{lang_text}`: use ru or en"))?,
        callback_number: s.callback_number.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        predial::store::folder::prepare(&data).map_err(|e| {
            anyhow::anyhow!("cannot create the data folder {}: {e}", data.display())
        })?;
        for warning in predial::store::folder::looser_than_private(&data, media.recordings.as_deref()) {
            eprintln!("predial: warning: {warning}");
            tracing::warn!("{warning}");
        }
        reload_on_hangup(tls_identity.clone())?;
        let store = Store::open(s.database.as_deref(), &data).await?;
        let (token, made) = api::admin_token(&data)?;
        if made {
            eprintln!(
                "predial: the admin token was written to {} (mode 0600)",
                data.join("admin.token").display()
            );
        }
        let mut state = api::state(store.clone(), &token).await?;
        state.edge = std::sync::Arc::new(edge);
        // Profiles are checked as `predial check-config` does; a folder that is not there is
        // no trunk at all (nothing is dialled).
        let has_trunks = std::fs::read_dir(&profiles).is_ok_and(|d| {
            d.filter_map(Result::ok).any(|e| {
                let p = e.path();
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_name().is_some_and(|n| {
                        !predial::trunks::NOT_TRUNKS.iter().any(|x| n == *x)
                    })
            })
        });
        let trunks: Vec<predial::trunks::TrunkProfile> = if has_trunks {
            predial::trunks::load_dir(&profiles)?
                .into_iter()
                .map(|t| t.profile)
                .collect()
        } else {
            tracing::warn!(profiles = %profiles.display(), "no trunk profiles: nothing will be dialled");
            Vec::new()
        };
        state.trunks = std::sync::Arc::new(trunks.clone());
        // The registrar of operators' softphones, with the accounts of the store and those of
        // sip-profiles/operators.toml (which join the store, so their states are kept too).
        let secret = predial::crypto::random_bytes::<32>()?;
        let mut registrar = predial::registrar::Registrar::new(secret);
        registrar.many_devices = s.many_devices;
        for op in predial::registrar::accounts::load(&profiles)? {
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
        }
        for (login, md5, sha256) in store.operator_credentials().await? {
            registrar.set_account(
                &login,
                predial::registrar::Account {
                    ha1_md5: md5,
                    ha1_sha256: sha256,
                },
            );
        }
        let inbound = std::sync::Arc::new(predial::inbound::config::load(&profiles)?);
        if !inbound.numbers.is_empty() {
            eprintln!(
                "predial: inbound: {} number(s), {} queue(s) (from {})",
                inbound.numbers.len(),
                inbound.queues.len(),
                profiles.join(predial::inbound::config::FILE).display()
            );
        }
        let operators = store
            .operators()
            .await?
            .into_iter()
            .map(|o| (o.login, o.skills))
            .collect();
        let registrar = std::sync::Arc::new(std::sync::Mutex::new(registrar));
        let service = Service::start(ServiceConfig {
            store: store.clone(),
            trunks,
            registrar: registrar.clone(),
            operators,
            sip: predial::sip::SipOptions {
                listen: sip_listen,
                ws_listen,
                sips_listen,
                wss_listen,
                tls_identity,
                flood,
                ..predial::sip::SipOptions::default()
            },
            media,
            answer_timeout: Duration::from_secs_f64(answer_timeout_s),
            dtmf_callback_after: Duration::from_secs_f64(dtmf_callback_after_s),
            events: Some(state.events.clone()),
            inbound,
            intake: Some(state.intake.clone()),
        })
        .await?;
        eprintln!(
            "predial: SIP on {} (UDP and TCP): trunks and operators' softphones",
            service.sip_addr
        );
        if let Some(ws) = ws_listen {
            eprintln!("predial: SIP over WebSocket on ws://{ws} (subprotocol sip)");
        }
        if let Some(sips) = sips_listen {
            eprintln!("predial: SIP over TLS on {sips}");
        }
        if let Some(wss) = wss_listen {
            eprintln!("predial: SIP over WebSocket over TLS on wss://{wss} (subprotocol sip)");
        }
        state.registrar = Some(registrar);
        state.engine = Some(service.feed.clone());
        state.figures = Some(service.figures.clone());
        tokio::spawn(predial::api::auth::refresh_forever(
            store.clone(),
            state.tokens.clone(),
        ));
        tokio::spawn(predial::api::events::follow_calls(
            store.clone(),
            state.events.clone(),
        ));
        tokio::spawn(predial::webhooks::deliver_forever(
            store.clone(),
            Duration::from_secs_f64(webhook_retry_s),
            webhook_urls,
        ));
        let listener = tokio::net::TcpListener::bind(&http)
            .await
            .map_err(|e| anyhow::anyhow!("http {http}: cannot listen: {e}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, database = %store.name, "API listening");
        eprintln!("predial: API on http://{addr}/v1/ (OpenAPI at http://{addr}/openapi.json), database {}", store.name);
        api::serve(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        let report = service.stop().await?;
        tracing::info!(calls = report.calls, bridged = report.bridged, "engine stopped");
        store.close().await;
        eprintln!("predial: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
