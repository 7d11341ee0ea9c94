//! Missed calls by e-mail, through the shop's SMTP relay (`[email]` in inbound.toml), beside the
//! webhook: for a supervisor's mailbox rather than the CRM. Best effort: three tries, then a
//! warning in the log (the webhook is the durable notification).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use tracing::{info, warn};

/// How the relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS on the submission port (587).
    #[default]
    Starttls,
    /// TLS from the first byte (465).
    Tls,
}

/// `[email]` of inbound.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The relay, HOST:PORT.
    pub relay: String,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender, `predial@shop.example` or `Predial <predial@shop.example>`.
    pub from: String,
    /// Who gets the missed calls.
    pub to: Vec<String>,
}

impl EmailConfig {
    /// What is wrong with it, as (field, message).
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if crate::trunks::profile::host_port(&self.relay).is_none() {
            out.push((
                "relay",
                format!("`{}`: HOST:PORT, like smtp.example.com:587", self.relay),
            ));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            out.push(("from", format!("`{}` is not an e-mail address", self.from)));
        }
        if self.to.is_empty() {
            out.push(("to", "give at least one address".into()));
        }
        for t in &self.to {
            if t.parse::<lettre::message::Mailbox>().is_err() {
                out.push(("to", format!("`{t}` is not an e-mail address")));
            }
        }
        if self.user.is_some() != self.password.is_some() {
            out.push(("password", "give user and password together".into()));
        }
        out
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
        let (host, port) = crate::trunks::profile::host_port(&self.relay)
            .ok_or_else(|| EmailError::Relay(self.relay.clone()))?;
        let builder = match self.security {
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?,
        };
        let mut builder = builder.port(port).timeout(Some(Duration::from_secs(15)));
        if let (Some(u), Some(p)) = (&self.user, &self.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(builder.build())
    }
}

/// Why a missed call's e-mail cannot be made or sent.
#[derive(Debug, thiserror::Error)]
enum EmailError {
    #[error("relay `{0}` is not HOST:PORT")]
    Relay(String),
    #[error("from: {0}")]
    From(lettre::address::AddressError),
    #[error("to: {0}")]
    To(lettre::address::AddressError),
    #[error("{0}")]
    Message(#[from] lettre::error::Error),
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// The e-mail, from the config's sender to its addresses.
fn message(config: &EmailConfig, subject: &str, body: String) -> Result<Message, EmailError> {
    let mut b = Message::builder()
        .from(config.from.parse().map_err(EmailError::From)?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for t in &config.to {
        b = b.to(t.parse().map_err(EmailError::To)?);
    }
    Ok(b.body(body)?)
}

/// Sends one missed call's e-mail (three tries).
pub async fn send(config: &EmailConfig, subject: &str, body: String) {
    let message = match message(config, subject, body) {
        Ok(m) => m,
        Err(e) => {
            warn!(error = %e, "the missed-call e-mail cannot be made");
            return;
        }
    };
    let transport = match config.transport() {
        Ok(t) => t,
        Err(e) => {
            warn!(error = %e, "no SMTP relay for the missed-call e-mail");
            return;
        }
    };
    for attempt in 1..=3u64 {
        match transport.send(message.clone()).await {
            Ok(_) => {
                info!(relay = %config.relay, "missed-call e-mail sent");
                return;
            }
            Err(e) if attempt < 3 => {
                warn!(relay = %config.relay, error = %e, attempt, "missed-call e-mail not sent: trying again");
                tokio::time::sleep(Duration::from_secs(5 * attempt)).await;
            }
            Err(e) => {
                warn!(relay = %config.relay, error = %e, "missed-call e-mail not sent (gave up after 3 tries; the webhook still tells the CRM)");
            }
        }
    }
}
