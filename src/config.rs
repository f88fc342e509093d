//! Configuration: defaults < TOML file < `M_LD_GATEWAY_*` environment <
//! command-line flags, validated once into [`Config`]. The environment names
//! are the Node gateway's, so deployments move over unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::AuthKey;
use crate::auth::rsa_pair::RsaKeyConfig;

/// Default listen host: loopback, so a first run is not exposed.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default domain name when no gateway is configured.
pub const DEFAULT_DOMAIN: &str = "localhost.test";
/// Default listen port (the Node gateway's).
pub const DEFAULT_PORT: u16 = 3000;
/// Default packets queued per socket before it counts as too slow.
pub const DEFAULT_MAX_BUFFERED_PACKETS: usize = 4096;
/// Default number of backup clones open at once (the Node gateway's).
pub const DEFAULT_SUBDOMAIN_CACHE_SIZE: usize = 100;
/// Default largest Socket.io message, in bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 8 * 1024 * 1024;
/// Default most Clone API updates queued per subdomain for polls: every
/// subdomain queues (as the Node gateway does) whether or not anyone polls,
/// so this bounds the disk a backup-only subdomain spends on it.
pub const DEFAULT_UPDATE_QUEUE_LIMIT: usize = 1000;
/// Default Clone API lock timeout, in seconds.
pub const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 300;
/// Default messages per second one socket may send on average: above what
/// one m-ld clone can produce (the shared bench's senders reach ~50k/s).
pub const DEFAULT_RELAY_MESSAGES_PER_SEC: u64 = 100_000;
/// Default messages one socket may send at once (a snapshot's burst).
pub const DEFAULT_RELAY_MESSAGE_BURST: u64 = 200_000;
/// Default most open connections from one IP (the shared bench holds 5,000
/// sockets from one address).
pub const DEFAULT_CONNECTIONS_PER_IP: usize = 10_000;
/// Default most open connections in all.
pub const DEFAULT_MAX_CONNECTIONS: usize = 50_000;
/// Default HTTP requests per second per IP without credentials (website,
/// activation, anonymous configs), and their burst.
pub const DEFAULT_ANON_REQUESTS_PER_SEC: u32 = 50;
/// See [`DEFAULT_ANON_REQUESTS_PER_SEC`].
pub const DEFAULT_ANON_REQUEST_BURST: u32 = 200;
/// Default HTTP requests per second per IP with credentials, and their burst:
/// above what one address can get from this gateway (the shared bench's
/// Clone API reads reach ~6 000/s on two cores), so that it bounds runaway
/// clients without slowing real ones.
pub const DEFAULT_REQUESTS_PER_SEC: u32 = 50_000;
/// See [`DEFAULT_REQUESTS_PER_SEC`].
pub const DEFAULT_REQUEST_BURST: u32 = 100_000;
/// Default activation emails per client IP per window.
pub const DEFAULT_ACTIVATIONS_PER_IP: u32 = 5;
/// Default window for [`DEFAULT_ACTIVATIONS_PER_IP`], in seconds.
pub const DEFAULT_ACTIVATIONS_PER_IP_WINDOW_SECS: u64 = 600;
/// Default activation emails per address per window.
pub const DEFAULT_ACTIVATIONS_PER_EMAIL: u32 = 3;
/// Default window for [`DEFAULT_ACTIVATIONS_PER_EMAIL`], in seconds.
pub const DEFAULT_ACTIVATIONS_PER_EMAIL_WINDOW_SECS: u64 = 3600;
/// Default most named subdomains per account.
pub const DEFAULT_SUBDOMAINS_PER_ACCOUNT: usize = 1_000;
/// Default largest Clone API write, in bytes.
pub const DEFAULT_CLONE_WRITE_BYTES: usize = 1024 * 1024;
/// Default longest wait for a request body's next bytes, in seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Default largest backup a restore accepts, in bytes (1 GiB).
pub const DEFAULT_MAX_RESTORE_BYTES: u64 = 1024 * 1024 * 1024;
/// A rotated key keeps working for a day, time to roll the new one out.
pub const DEFAULT_ROTATION_GRACE_SECS: u64 = 24 * 60 * 60;

/// Every setting, each optional: one layer of configuration.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// External hostname or origin (`M_LD_GATEWAY_GATEWAY`).
    pub gateway: Option<String>,
    /// Data directory (`M_LD_GATEWAY_DATA_PATH`).
    pub data_path: Option<PathBuf>,
    /// Log level or filter (`LOG_LEVEL`).
    pub log_level: Option<String>,
    /// `[auth]` section.
    #[serde(default)]
    pub auth: AuthSettings,
    /// `[key]` section: the root RSA key pair, published at
    /// `/api/v1/publicKey` (the Node gateway's `key`).
    #[serde(default)]
    pub key: KeyPairSettings,
    /// `[address]` section.
    #[serde(default)]
    pub address: AddressSettings,
    /// `[tls]` section.
    #[serde(default)]
    pub tls: TlsSettings,
    /// `[metrics]` section.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// `[web]` section.
    #[serde(default)]
    pub web: WebSettings,
    /// `[relay]` section.
    #[serde(default)]
    pub relay: RelaySettings,
    /// `[clone_api]` section.
    #[serde(default)]
    pub clone_api: CloneApiSettings,
    /// `[backup]` section.
    #[serde(default)]
    pub backup: BackupSettings,
    /// Most backup clones open at once (`M_LD_GATEWAY_SUBDOMAIN_CACHE_SIZE`,
    /// the Node gateway's `subdomainCacheSize`).
    pub subdomain_cache_size: Option<usize>,
    /// `[smtp]` section: where activation emails go.
    #[serde(default)]
    pub smtp: SmtpSettings,
    /// `[limits]` section: limits against exhaustion.
    #[serde(default)]
    pub limits: LimitsSettings,
}

/// `[limits]`: connections, request rates, activation mails, subdomains and
/// body timeouts (the relay's per-socket limits are in `[relay]`).
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Most open connections from one IP (`M_LD_GATEWAY_LIMITS__CONNECTIONS_PER_IP`).
    pub connections_per_ip: Option<usize>,
    /// Most open connections in all (`M_LD_GATEWAY_LIMITS__MAX_CONNECTIONS`).
    pub max_connections: Option<usize>,
    /// HTTP requests per second per IP without credentials
    /// (`M_LD_GATEWAY_LIMITS__ANON_REQUESTS_PER_SEC`).
    pub anon_requests_per_sec: Option<u32>,
    /// (`M_LD_GATEWAY_LIMITS__ANON_REQUEST_BURST`)
    pub anon_request_burst: Option<u32>,
    /// HTTP requests per second per IP with credentials
    /// (`M_LD_GATEWAY_LIMITS__REQUESTS_PER_SEC`).
    pub requests_per_sec: Option<u32>,
    /// (`M_LD_GATEWAY_LIMITS__REQUEST_BURST`)
    pub request_burst: Option<u32>,
    /// Activation emails per client IP per window
    /// (`M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP`).
    pub activations_per_ip: Option<u32>,
    /// (`M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP_WINDOW_SECS`)
    pub activations_per_ip_window_secs: Option<u64>,
    /// Activation emails per address per window
    /// (`M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_EMAIL`).
    pub activations_per_email: Option<u32>,
    /// (`M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_EMAIL_WINDOW_SECS`)
    pub activations_per_email_window_secs: Option<u64>,
    /// Most named subdomains per account (`M_LD_GATEWAY_LIMITS__SUBDOMAINS_PER_ACCOUNT`).
    pub subdomains_per_account: Option<usize>,
    /// Longest wait for a request body's next bytes, in seconds
    /// (`M_LD_GATEWAY_LIMITS__BODY_TIMEOUT_SECS`).
    pub body_timeout_secs: Option<u64>,
}

impl LimitsSettings {
    /// This layer with any unset values taken from `lower`.
    fn over(self, lower: LimitsSettings) -> LimitsSettings {
        LimitsSettings {
            connections_per_ip: self.connections_per_ip.or(lower.connections_per_ip),
            max_connections: self.max_connections.or(lower.max_connections),
            anon_requests_per_sec: self.anon_requests_per_sec.or(lower.anon_requests_per_sec),
            anon_request_burst: self.anon_request_burst.or(lower.anon_request_burst),
            requests_per_sec: self.requests_per_sec.or(lower.requests_per_sec),
            request_burst: self.request_burst.or(lower.request_burst),
            activations_per_ip: self.activations_per_ip.or(lower.activations_per_ip),
            activations_per_ip_window_secs: self
                .activations_per_ip_window_secs
                .or(lower.activations_per_ip_window_secs),
            activations_per_email: self.activations_per_email.or(lower.activations_per_email),
            activations_per_email_window_secs: self
                .activations_per_email_window_secs
                .or(lower.activations_per_email_window_secs),
            subdomains_per_account: self.subdomains_per_account.or(lower.subdomains_per_account),
            body_timeout_secs: self.body_timeout_secs.or(lower.body_timeout_secs),
        }
    }

    fn from_env(get: &dyn Fn(&'static str) -> Result<Option<u64>, ConfigError>) -> Result<Self, ConfigError> {
        let u32_of = |name: &'static str| -> Result<Option<u32>, ConfigError> {
            get(name)?.map(|v| u32::try_from(v).map_err(|_| invalid(name, "out of range"))).transpose()
        };
        let usize_of = |name: &'static str| -> Result<Option<usize>, ConfigError> {
            get(name)?.map(|v| usize::try_from(v).map_err(|_| invalid(name, "out of range"))).transpose()
        };
        Ok(LimitsSettings {
            connections_per_ip: usize_of("M_LD_GATEWAY_LIMITS__CONNECTIONS_PER_IP")?,
            max_connections: usize_of("M_LD_GATEWAY_LIMITS__MAX_CONNECTIONS")?,
            anon_requests_per_sec: u32_of("M_LD_GATEWAY_LIMITS__ANON_REQUESTS_PER_SEC")?,
            anon_request_burst: u32_of("M_LD_GATEWAY_LIMITS__ANON_REQUEST_BURST")?,
            requests_per_sec: u32_of("M_LD_GATEWAY_LIMITS__REQUESTS_PER_SEC")?,
            request_burst: u32_of("M_LD_GATEWAY_LIMITS__REQUEST_BURST")?,
            activations_per_ip: u32_of("M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP")?,
            activations_per_ip_window_secs: get("M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP_WINDOW_SECS")?,
            activations_per_email: u32_of("M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_EMAIL")?,
            activations_per_email_window_secs: get("M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_EMAIL_WINDOW_SECS")?,
            subdomains_per_account: usize_of("M_LD_GATEWAY_LIMITS__SUBDOMAINS_PER_ACCOUNT")?,
            body_timeout_secs: get("M_LD_GATEWAY_LIMITS__BODY_TIMEOUT_SECS")?,
        })
    }
}

/// `[auth]`: the root key.
#[derive(Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Root key `root.keyid:secret` (`M_LD_GATEWAY_AUTH__KEY`).
    pub key: Option<String>,
    /// How long a rotated key keeps working, in seconds
    /// (`M_LD_GATEWAY_AUTH__ROTATION_GRACE_SECS`).
    pub rotation_grace_secs: Option<u64>,
    /// Failed authentications from one IP for one account within
    /// `lockout_window_secs` that lock the pair out
    /// (`M_LD_GATEWAY_AUTH__LOCKOUT_FAILURES`).
    pub lockout_failures: Option<u64>,
    /// (`M_LD_GATEWAY_AUTH__LOCKOUT_WINDOW_SECS`)
    pub lockout_window_secs: Option<u64>,
    /// First lockout, doubling on repeat (`M_LD_GATEWAY_AUTH__LOCKOUT_SECS`).
    pub lockout_secs: Option<u64>,
}

/// `[key]`: the root key pair in the Node gateway's encoding — base64 SPKI
/// DER public key, base64 PKCS#8 DER private key encrypted with the root
/// key's secret (`M_LD_GATEWAY_KEY__PUBLIC`, `M_LD_GATEWAY_KEY__PRIVATE`).
#[derive(Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyPairSettings {
    /// Only `rsa` (`M_LD_GATEWAY_KEY__TYPE`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub public: Option<String>,
    pub private: Option<String>,
}

impl std::fmt::Debug for KeyPairSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairSettings").field("public", &self.public).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("key", &self.key.as_ref().map(|_| "≪redacted≫"))
            .field("rotation_grace_secs", &self.rotation_grace_secs)
            .field("lockout_failures", &self.lockout_failures)
            .field("lockout_window_secs", &self.lockout_window_secs)
            .field("lockout_secs", &self.lockout_secs)
            .finish()
    }
}

/// `[web]`: the website.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// A directory whose files replace the embedded website's, file by file
    /// (`M_LD_GATEWAY_WEB__DIR`): `layout.html`, the page fragments and
    /// `assets/*`.
    pub dir: Option<PathBuf>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics` without the root key (`M_LD_GATEWAY_METRICS__PUBLIC`).
    pub public: Option<bool>,
}

/// `[tls]`: serve HTTPS and WSS on the one port (else plain HTTP, as behind a
/// TLS-terminating proxy).
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first (`M_LD_GATEWAY_TLS__CERT`).
    pub cert: Option<PathBuf>,
    /// PEM private key (`M_LD_GATEWAY_TLS__KEY`).
    pub key: Option<PathBuf>,
}

/// `[address]`: where to listen.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AddressSettings {
    /// Listen host (`M_LD_GATEWAY_ADDRESS__HOST`).
    pub host: Option<String>,
    /// Listen port (`M_LD_GATEWAY_ADDRESS__PORT`).
    pub port: Option<u16>,
    /// Proxies whose `X-Forwarded-For` names the client, as IP addresses
    /// (`M_LD_GATEWAY_ADDRESS__TRUSTED_PROXIES`, comma-separated).
    pub trusted_proxies: Option<Vec<String>>,
}

/// `[relay]`: Socket.io limits.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelaySettings {
    /// Packets queued per socket before the socket is disconnected as too
    /// slow (`M_LD_GATEWAY_RELAY__MAX_BUFFERED_PACKETS`).
    pub max_buffered_packets: Option<usize>,
    /// Largest accepted message in bytes (`M_LD_GATEWAY_RELAY__MAX_MESSAGE_BYTES`).
    pub max_message_bytes: Option<u64>,
    /// Messages per second one socket may send on average
    /// (`M_LD_GATEWAY_RELAY__MAX_MESSAGES_PER_SEC`).
    pub max_messages_per_sec: Option<u64>,
    /// Messages one socket may send at once (`M_LD_GATEWAY_RELAY__MESSAGE_BURST`).
    pub message_burst: Option<u64>,
}

/// `[clone_api]`: following updates (poll and lock).
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloneApiSettings {
    /// Most updates queued per subdomain for polls; the oldest are dropped
    /// past it (`M_LD_GATEWAY_CLONE_API__UPDATE_QUEUE_LIMIT`).
    pub update_queue_limit: Option<usize>,
    /// Seconds a poll's or write's lock lasts unless renewed
    /// (`M_LD_GATEWAY_CLONE_API__LOCK_TIMEOUT_SECS`).
    pub lock_timeout_secs: Option<u64>,
    /// Largest write body, in bytes (`M_LD_GATEWAY_CLONE_API__MAX_WRITE_BYTES`).
    pub max_write_bytes: Option<usize>,
}

/// `[backup]`: exporting and restoring subdomains.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// Largest backup a restore (`POST …/backup`) accepts, in bytes
    /// (`M_LD_GATEWAY_BACKUP__MAX_RESTORE_BYTES`).
    pub max_restore_bytes: Option<u64>,
}

/// `[smtp]`: the mail server for activation codes, with the Node gateway's
/// (nodemailer's) option names. Without `host`, mail goes to the outbox
/// folder `<data_path>/outbox/`.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Mail server host name (`M_LD_GATEWAY_SMTP__HOST`).
    pub host: Option<String>,
    /// Mail server port (`M_LD_GATEWAY_SMTP__PORT`).
    pub port: Option<u16>,
    /// nodemailer's `secure`: true means TLS from the first byte, i.e.
    /// `tls = "tls"` (`M_LD_GATEWAY_SMTP__SECURE`).
    pub secure: Option<bool>,
    /// How the connection is protected (`M_LD_GATEWAY_SMTP__TLS`).
    pub tls: Option<SmtpTls>,
    /// Sender, `addr@ex.org` or `Name <addr@ex.org>` (`M_LD_GATEWAY_SMTP__FROM`).
    pub from: Option<String>,
    /// `[smtp.auth]`: credentials, if the server wants them.
    #[serde(default)]
    pub auth: SmtpAuthSettings,
}

/// `[smtp.auth]`: SMTP credentials.
#[derive(Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpAuthSettings {
    /// User name (`M_LD_GATEWAY_SMTP__AUTH__USER`).
    pub user: Option<String>,
    /// Password (`M_LD_GATEWAY_SMTP__AUTH__PASS`).
    pub pass: Option<String>,
}

impl std::fmt::Debug for SmtpAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpAuthSettings")
            .field("user", &self.user)
            .field("pass", &self.pass.as_ref().map(|_| "≪redacted≫"))
            .finish()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only sensible to a relay on this machine.
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer.
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS; nodemailer's `secure`).
    Tls,
}

impl SmtpTls {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::StartTls),
            "tls" => Some(SmtpTls::Tls),
            _ => None,
        }
    }

    /// The usual port for this mode: 465 for implicit TLS, else 587 (both
    /// nodemailer's defaults).
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Tls => 465,
            SmtpTls::None | SmtpTls::StartTls => 587,
        }
    }
}

impl std::fmt::Display for SmtpTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SmtpTls::None => "none",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
        })
    }
}

/// A configuration error, with the setting it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for our settings.
    #[error("config file {path}: {message}")]
    Parse {
        /// File path.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A setting has an invalid value.
    #[error("invalid {setting}: {message}")]
    Invalid {
        /// Setting name.
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { setting, message: message.into() }
}

impl Settings {
    /// Reads a TOML file layer.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
    }

    /// Reads the environment layer from name/value pairs.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        let parse = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            get(name).map(|v| v.parse::<u64>().map_err(|e| invalid(name, e.to_string()))).transpose()
        };
        let port = |name: &'static str| -> Result<Option<u16>, ConfigError> {
            parse(name)?.map(|p| u16::try_from(p).map_err(|_| invalid(name, "out of range"))).transpose()
        };
        Ok(Settings {
            gateway: get("M_LD_GATEWAY_GATEWAY"),
            data_path: get("M_LD_GATEWAY_DATA_PATH").map(PathBuf::from),
            log_level: get("LOG_LEVEL").or_else(|| get("M_LD_GATEWAY_LOG_LEVEL")),
            auth: AuthSettings {
                key: get("M_LD_GATEWAY_AUTH__KEY"),
                rotation_grace_secs: parse("M_LD_GATEWAY_AUTH__ROTATION_GRACE_SECS")?,
                lockout_failures: parse("M_LD_GATEWAY_AUTH__LOCKOUT_FAILURES")?,
                lockout_window_secs: parse("M_LD_GATEWAY_AUTH__LOCKOUT_WINDOW_SECS")?,
                lockout_secs: parse("M_LD_GATEWAY_AUTH__LOCKOUT_SECS")?,
            },
            key: KeyPairSettings {
                kind: get("M_LD_GATEWAY_KEY__TYPE"),
                public: get("M_LD_GATEWAY_KEY__PUBLIC"),
                private: get("M_LD_GATEWAY_KEY__PRIVATE"),
            },
            web: WebSettings { dir: get("M_LD_GATEWAY_WEB__DIR").map(PathBuf::from) },
            metrics: MetricsSettings {
                public: get("M_LD_GATEWAY_METRICS__PUBLIC")
                    .map(|v| {
                        parse_bool(&v).ok_or_else(|| invalid("M_LD_GATEWAY_METRICS__PUBLIC", "expected true or false"))
                    })
                    .transpose()?,
            },
            tls: TlsSettings {
                cert: get("M_LD_GATEWAY_TLS__CERT").map(PathBuf::from),
                key: get("M_LD_GATEWAY_TLS__KEY").map(PathBuf::from),
            },
            address: AddressSettings {
                host: get("M_LD_GATEWAY_ADDRESS__HOST"),
                port: port("M_LD_GATEWAY_ADDRESS__PORT")?,
                trusted_proxies: get("M_LD_GATEWAY_ADDRESS__TRUSTED_PROXIES")
                    .map(|v| v.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect()),
            },
            relay: RelaySettings {
                max_buffered_packets: parse("M_LD_GATEWAY_RELAY__MAX_BUFFERED_PACKETS")?.map(|v| v as usize),
                max_message_bytes: parse("M_LD_GATEWAY_RELAY__MAX_MESSAGE_BYTES")?,
                max_messages_per_sec: parse("M_LD_GATEWAY_RELAY__MAX_MESSAGES_PER_SEC")?,
                message_burst: parse("M_LD_GATEWAY_RELAY__MESSAGE_BURST")?,
            },
            limits: LimitsSettings::from_env(&parse)?,
            subdomain_cache_size: parse("M_LD_GATEWAY_SUBDOMAIN_CACHE_SIZE")?.map(|v| v as usize),
            clone_api: CloneApiSettings {
                update_queue_limit: parse("M_LD_GATEWAY_CLONE_API__UPDATE_QUEUE_LIMIT")?.map(|v| v as usize),
                lock_timeout_secs: parse("M_LD_GATEWAY_CLONE_API__LOCK_TIMEOUT_SECS")?,
                max_write_bytes: parse("M_LD_GATEWAY_CLONE_API__MAX_WRITE_BYTES")?.map(|v| v as usize),
            },
            backup: BackupSettings { max_restore_bytes: parse("M_LD_GATEWAY_BACKUP__MAX_RESTORE_BYTES")? },
            smtp: SmtpSettings {
                host: get("M_LD_GATEWAY_SMTP__HOST"),
                port: port("M_LD_GATEWAY_SMTP__PORT")?,
                secure: get("M_LD_GATEWAY_SMTP__SECURE")
                    .map(|v| {
                        parse_bool(&v).ok_or_else(|| invalid("M_LD_GATEWAY_SMTP__SECURE", "expected true or false"))
                    })
                    .transpose()?,
                tls: get("M_LD_GATEWAY_SMTP__TLS")
                    .map(|v| {
                        SmtpTls::parse(&v)
                            .ok_or_else(|| invalid("M_LD_GATEWAY_SMTP__TLS", "expected none, starttls or tls"))
                    })
                    .transpose()?,
                from: get("M_LD_GATEWAY_SMTP__FROM"),
                auth: SmtpAuthSettings {
                    user: get("M_LD_GATEWAY_SMTP__AUTH__USER"),
                    pass: get("M_LD_GATEWAY_SMTP__AUTH__PASS"),
                },
            },
        })
    }

    /// This layer with any unset values taken from `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            gateway: self.gateway.or(lower.gateway),
            data_path: self.data_path.or(lower.data_path),
            log_level: self.log_level.or(lower.log_level),
            auth: AuthSettings {
                key: self.auth.key.or(lower.auth.key),
                rotation_grace_secs: self.auth.rotation_grace_secs.or(lower.auth.rotation_grace_secs),
                lockout_failures: self.auth.lockout_failures.or(lower.auth.lockout_failures),
                lockout_window_secs: self.auth.lockout_window_secs.or(lower.auth.lockout_window_secs),
                lockout_secs: self.auth.lockout_secs.or(lower.auth.lockout_secs),
            },
            // The pair is one setting: a layer that gives a public key gives
            // the whole pair
            key: if self.key.public.is_some() { self.key } else { lower.key },
            tls: TlsSettings { cert: self.tls.cert.or(lower.tls.cert), key: self.tls.key.or(lower.tls.key) },
            metrics: MetricsSettings { public: self.metrics.public.or(lower.metrics.public) },
            web: WebSettings { dir: self.web.dir.or(lower.web.dir) },
            address: AddressSettings {
                host: self.address.host.or(lower.address.host),
                port: self.address.port.or(lower.address.port),
                trusted_proxies: self.address.trusted_proxies.or(lower.address.trusted_proxies),
            },
            relay: RelaySettings {
                max_buffered_packets: self.relay.max_buffered_packets.or(lower.relay.max_buffered_packets),
                max_message_bytes: self.relay.max_message_bytes.or(lower.relay.max_message_bytes),
                max_messages_per_sec: self.relay.max_messages_per_sec.or(lower.relay.max_messages_per_sec),
                message_burst: self.relay.message_burst.or(lower.relay.message_burst),
            },
            limits: self.limits.over(lower.limits),
            subdomain_cache_size: self.subdomain_cache_size.or(lower.subdomain_cache_size),
            clone_api: CloneApiSettings {
                update_queue_limit: self.clone_api.update_queue_limit.or(lower.clone_api.update_queue_limit),
                lock_timeout_secs: self.clone_api.lock_timeout_secs.or(lower.clone_api.lock_timeout_secs),
                max_write_bytes: self.clone_api.max_write_bytes.or(lower.clone_api.max_write_bytes),
            },
            backup: BackupSettings {
                max_restore_bytes: self.backup.max_restore_bytes.or(lower.backup.max_restore_bytes),
            },
            smtp: self.smtp.over(lower.smtp),
        }
    }
}

impl SmtpSettings {
    /// This layer with any unset values taken from `lower`.
    fn over(self, lower: SmtpSettings) -> SmtpSettings {
        SmtpSettings {
            host: self.host.or(lower.host),
            port: self.port.or(lower.port),
            secure: self.secure.or(lower.secure),
            tls: self.tls.or(lower.tls),
            from: self.from.or(lower.from),
            auth: SmtpAuthSettings {
                user: self.auth.user.or(lower.auth.user),
                pass: self.auth.pass.or(lower.auth.pass),
            },
        }
    }
}

/// A boolean as yargs reads one from the environment for the Node gateway.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The gateway's public identity: its domain name (root of m-ld domain
/// names) and the origin clones connect to.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayName {
    /// Domain name, e.g. `ex.org`.
    pub domain: String,
    /// Public origin with a trailing slash, e.g. `https://ex.org/`.
    pub origin: String,
}

impl GatewayName {
    /// Resolves `M_LD_GATEWAY_GATEWAY` as the Node gateway does: a bare
    /// domain name means `https://<name>/`; an origin gives its hostname.
    pub fn parse(gateway: &str) -> Result<Self, ConfigError> {
        let gateway = gateway.trim().trim_end_matches('/');
        let (origin, host) = match gateway.split_once("://") {
            Some((scheme @ ("http" | "https"), rest)) => {
                if rest.contains('/') || rest.contains('@') || rest.contains('?') {
                    return Err(invalid("gateway", "an origin must have no path, user or query"));
                }
                let host = match rest.rsplit_once(':') {
                    Some((host, port)) if port.parse::<u16>().is_ok() => host,
                    _ => rest,
                };
                (format!("{scheme}://{rest}/"), host)
            }
            Some(_) => return Err(invalid("gateway", "the scheme must be http or https")),
            None => (format!("https://{gateway}/"), gateway),
        };
        let domain = host.to_ascii_lowercase();
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        if !domain.split('.').all(valid_label) {
            return Err(invalid("gateway", format!("{host:?} is not a domain name")));
        }
        Ok(GatewayName { domain, origin })
    }
}

impl GatewayName {
    /// Whether m-ld JS clones accept domains under this one: their check
    /// (`@m-ld/m-ld` 0.10) wants the last label to be 2 to 6 letters.
    pub fn usable_by_js_clones(&self) -> bool {
        let tld = self.domain.rsplit('.').next().unwrap_or("");
        (2..=6).contains(&tld.len()) && tld.bytes().all(|b| b.is_ascii_lowercase())
    }
}

/// Validated configuration for `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public name and origin.
    pub gateway: GatewayName,
    /// Root key from configuration, if given (else the data directory's).
    pub root_key: Option<AuthKey>,
    /// Data directory.
    pub data_path: PathBuf,
    /// `/metrics` without the root key.
    pub metrics_public: bool,
    /// The operator's website files, replacing the embedded ones.
    pub web_dir: Option<PathBuf>,
    /// Certificate chain and key files, when serving TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Listen host.
    pub host: String,
    /// Listen port (0 = any free port).
    pub port: u16,
    /// Log level or filter.
    pub log_level: String,
    /// Socket packets queued per socket before it is dropped as too slow.
    pub max_buffered_packets: usize,
    /// Largest Socket.io message in bytes.
    pub max_message_bytes: u64,
    /// Most backup clones open at once.
    pub subdomain_cache_size: usize,
    /// Most Clone API updates queued per subdomain.
    pub update_queue_limit: usize,
    /// How long a rotated key keeps working.
    pub rotation_grace: std::time::Duration,
    /// Brute-force lockout policy.
    pub lockout: crate::auth::lockout::LockoutPolicy,
    /// Proxies trusted for `X-Forwarded-For`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The configured root key pair, if any (else the data directory's).
    pub root_key_pair: Option<RsaKeyConfig>,
    /// How long a Clone API lock lasts unless renewed.
    pub lock_timeout: std::time::Duration,
    /// Largest backup a restore accepts, in bytes.
    pub max_restore_bytes: u64,
    /// Where activation emails go.
    pub mail: MailConfig,
    /// Limits against exhaustion.
    pub limits: Limits,
}

/// Limits against exhaustion, validated (see the operator guide for the
/// reasoning behind each default).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Each socket's message rate and size.
    pub relay: crate::relay::MessageLimits,
    /// Open connections per IP and in total.
    pub connections: crate::limits::ConnLimits,
    /// HTTP requests per IP without credentials.
    pub anon_requests: crate::limits::Quota,
    /// HTTP requests per IP with credentials.
    pub requests: crate::limits::Quota,
    /// Activation emails per client IP.
    pub activations_per_ip: crate::limits::Quota,
    /// Activation emails per address.
    pub activations_per_email: crate::limits::Quota,
    /// Most named subdomains per account.
    pub subdomains_per_account: usize,
    /// Largest Clone API write body.
    pub clone_write_bytes: usize,
    /// Longest wait for a request body's next bytes.
    pub body_timeout: std::time::Duration,
}

impl Limits {
    fn from_settings(
        l: LimitsSettings,
        relay: &RelaySettings,
        clone_api: &CloneApiSettings,
    ) -> Result<Self, ConfigError> {
        use crate::limits::Quota;
        use std::time::Duration;
        let at_least_1 = |setting: &'static str, v: Option<u64>, default: u64| match v {
            Some(0) => Err(invalid(setting, "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let small = |setting: &'static str, v: Option<u32>, default: u32| {
            at_least_1(setting, v.map(u64::from), u64::from(default)).map(|n| n as u32)
        };
        let max_message_bytes = relay.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        if max_message_bytes < 1024 {
            return Err(invalid("relay.max_message_bytes", "must be at least 1024"));
        }
        let per_ip_window = at_least_1(
            "limits.activations_per_ip_window_secs",
            l.activations_per_ip_window_secs,
            DEFAULT_ACTIVATIONS_PER_IP_WINDOW_SECS,
        )?;
        let per_email_window = at_least_1(
            "limits.activations_per_email_window_secs",
            l.activations_per_email_window_secs,
            DEFAULT_ACTIVATIONS_PER_EMAIL_WINDOW_SECS,
        )?;
        let clone_write_bytes = clone_api.max_write_bytes.unwrap_or(DEFAULT_CLONE_WRITE_BYTES);
        if clone_write_bytes < 1024 {
            return Err(invalid("clone_api.max_write_bytes", "must be at least 1024"));
        }
        Ok(Limits {
            relay: crate::relay::MessageLimits {
                per_sec: at_least_1(
                    "relay.max_messages_per_sec",
                    relay.max_messages_per_sec,
                    DEFAULT_RELAY_MESSAGES_PER_SEC,
                )?,
                burst: at_least_1("relay.message_burst", relay.message_burst, DEFAULT_RELAY_MESSAGE_BURST)?,
                max_bytes: max_message_bytes,
            },
            connections: crate::limits::ConnLimits {
                per_ip: at_least_1(
                    "limits.connections_per_ip",
                    l.connections_per_ip.map(|n| n as u64),
                    DEFAULT_CONNECTIONS_PER_IP as u64,
                )? as usize,
                total: at_least_1(
                    "limits.max_connections",
                    l.max_connections.map(|n| n as u64),
                    DEFAULT_MAX_CONNECTIONS as u64,
                )? as usize,
            },
            anon_requests: Quota::per_second(
                small("limits.anon_requests_per_sec", l.anon_requests_per_sec, DEFAULT_ANON_REQUESTS_PER_SEC)?,
                small("limits.anon_request_burst", l.anon_request_burst, DEFAULT_ANON_REQUEST_BURST)?,
            ),
            requests: Quota::per_second(
                small("limits.requests_per_sec", l.requests_per_sec, DEFAULT_REQUESTS_PER_SEC)?,
                small("limits.request_burst", l.request_burst, DEFAULT_REQUEST_BURST)?,
            ),
            activations_per_ip: Quota::per_period(
                small("limits.activations_per_ip", l.activations_per_ip, DEFAULT_ACTIVATIONS_PER_IP)?,
                Duration::from_secs(per_ip_window),
            ),
            activations_per_email: Quota::per_period(
                small("limits.activations_per_email", l.activations_per_email, DEFAULT_ACTIVATIONS_PER_EMAIL)?,
                Duration::from_secs(per_email_window),
            ),
            subdomains_per_account: at_least_1(
                "limits.subdomains_per_account",
                l.subdomains_per_account.map(|n| n as u64),
                DEFAULT_SUBDOMAINS_PER_ACCOUNT as u64,
            )? as usize,
            clone_write_bytes,
            body_timeout: Duration::from_secs(at_least_1(
                "limits.body_timeout_secs",
                l.body_timeout_secs,
                DEFAULT_BODY_TIMEOUT_SECS,
            )?),
        })
    }
}

/// Where activation emails go, validated.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The mail server; `None` writes mail to `<data_path>/outbox/`.
    pub smtp: Option<SmtpServer>,
    /// Sender: `smtp.from`, or `noreply@<gateway domain>` for the outbox.
    pub from: lettre::message::Mailbox,
}

/// A validated SMTP server setting.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection protection, resolved from `tls`, `secure` and the host.
    pub tls: SmtpTls,
    /// Credentials, if configured.
    pub credentials: Option<SmtpCredentials>,
}

/// SMTP user name and password; the password never prints.
#[derive(Clone)]
pub struct SmtpCredentials {
    /// User name.
    pub user: String,
    pass: String,
}

impl SmtpCredentials {
    /// The password, for the SMTP client only.
    pub fn reveal_pass(&self) -> &str {
        &self.pass
    }
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpCredentials").field("user", &self.user).field("pass", &"≪redacted≫").finish()
    }
}

/// Whether a host name means this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

impl MailConfig {
    /// Validates the `[smtp]` settings; `domain` names the default sender.
    fn from_settings(s: SmtpSettings, domain: &str) -> Result<Self, ConfigError> {
        let from = s
            .from
            .filter(|f| !f.trim().is_empty())
            .map(|f| {
                f.trim()
                    .parse::<lettre::message::Mailbox>()
                    .map_err(|e| invalid("smtp.from", format!("expected addr@ex.org or \"Name <addr@ex.org>\": {e}")))
            })
            .transpose()?;
        let Some(host) = s.host.filter(|h| !h.trim().is_empty()).map(|h| h.trim().to_owned()) else {
            let from = match from {
                Some(from) => from,
                None => lettre::Address::new("noreply", domain)
                    .map(|a| lettre::message::Mailbox::new(None, a))
                    .map_err(|_| invalid("smtp.from", format!("cannot make a sender under {domain:?}; set one")))?,
            };
            return Ok(MailConfig { smtp: None, from });
        };
        let from = from.ok_or_else(|| invalid("smtp.from", "required when smtp.host is set"))?;
        let tls = match (s.tls, s.secure) {
            (Some(tls), None) => tls,
            (Some(SmtpTls::Tls), Some(true)) => SmtpTls::Tls,
            (Some(tls), Some(false)) if tls != SmtpTls::Tls => tls,
            (Some(tls), Some(secure)) => {
                return Err(invalid("smtp.secure", format!("secure = {secure} contradicts tls = \"{tls}\"")));
            }
            (None, Some(true)) => SmtpTls::Tls,
            // Mail to this machine never crosses a network: plain SMTP, as
            // to a local relay or a test sink. Anything else must be
            // protected (nodemailer would fall back to plain text when the
            // server offers no STARTTLS; we refuse to send instead)
            (None, _) if is_loopback_host(&host) => SmtpTls::None,
            (None, _) => SmtpTls::StartTls,
        };
        let credentials = match (s.auth.user, s.auth.pass) {
            (Some(user), Some(pass)) => Some(SmtpCredentials { user, pass }),
            (None, None) => None,
            _ => return Err(invalid("smtp.auth", "set both user and pass, or neither")),
        };
        if credentials.is_some() && tls == SmtpTls::None && !is_loopback_host(&host) {
            return Err(invalid(
                "smtp.auth",
                "would send the password in plain text; use tls = \"starttls\" or \"tls\"",
            ));
        }
        let port = s.port.unwrap_or(tls.default_port());
        if port == 0 {
            return Err(invalid("smtp.port", "must not be 0"));
        }
        Ok(MailConfig { smtp: Some(SmtpServer { host, port, tls, credentials }), from })
    }
}

impl Config {
    /// Validates merged settings, applying the embedded defaults.
    pub fn from_settings(s: Settings) -> Result<Self, ConfigError> {
        let host = s.address.host.unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let port = s.address.port.unwrap_or(DEFAULT_PORT);
        let tls = match (s.tls.cert, s.tls.key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(invalid("tls", "tls.cert and tls.key go together")),
        };
        let gateway = match s.gateway {
            Some(g) => GatewayName::parse(&g)?,
            // Embedded default: clones on this machine reach us at localhost.
            // The domain cannot be plain `localhost`: m-ld JS clones accept
            // only domains ending in a 2-6 letter label, so use the reserved
            // `.test` TLD (RFC 2606).
            None => {
                let scheme = if tls.is_some() { "https" } else { "http" };
                GatewayName { domain: DEFAULT_DOMAIN.into(), origin: format!("{scheme}://localhost:{port}/") }
            }
        };
        let root_key = s
            .auth
            .key
            .map(|k| AuthKey::parse(&k).map_err(|_| invalid("auth.key", "expected <root-account>.<keyid>:<secret>")))
            .transpose()?;
        if let Some(key) = &root_key {
            check_root_secret(key.secret())?;
        }
        let max_buffered_packets = s.relay.max_buffered_packets.unwrap_or(DEFAULT_MAX_BUFFERED_PACKETS);
        if max_buffered_packets < 16 {
            return Err(invalid("relay.max_buffered_packets", "must be at least 16"));
        }
        let limits = Limits::from_settings(s.limits, &s.relay, &s.clone_api)?;
        let max_message_bytes = limits.relay.max_bytes;
        let update_queue_limit = s.clone_api.update_queue_limit.unwrap_or(DEFAULT_UPDATE_QUEUE_LIMIT);
        if update_queue_limit == 0 {
            return Err(invalid("clone_api.update_queue_limit", "must be at least 1"));
        }
        let lock_timeout_secs = s.clone_api.lock_timeout_secs.unwrap_or(DEFAULT_LOCK_TIMEOUT_SECS);
        if lock_timeout_secs == 0 {
            return Err(invalid("clone_api.lock_timeout_secs", "must be at least 1"));
        }
        let max_restore_bytes = s.backup.max_restore_bytes.unwrap_or(DEFAULT_MAX_RESTORE_BYTES);
        if max_restore_bytes < 1024 {
            return Err(invalid("backup.max_restore_bytes", "must be at least 1024"));
        }
        let mail = MailConfig::from_settings(s.smtp, &gateway.domain)?;
        let root_key_pair = match (s.key.kind.as_deref(), s.key.public, s.key.private) {
            (_, None, None) => None,
            (None | Some("rsa"), Some(public), private) => {
                crate::auth::rsa_pair::parse_public(&public).map_err(|e| invalid("key.public", e.to_string()))?;
                Some(RsaKeyConfig { kind: "rsa".into(), public, private })
            }
            (Some(_), Some(_), _) => return Err(invalid("key.type", "only rsa key pairs are supported")),
            (_, None, Some(_)) => return Err(invalid("key.public", "required with key.private")),
        };
        let defaults = crate::auth::lockout::LockoutPolicy::default();
        let lockout = crate::auth::lockout::LockoutPolicy {
            max_failures: match s.auth.lockout_failures {
                Some(0) => return Err(invalid("auth.lockout_failures", "must be at least 1")),
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => defaults.max_failures,
            },
            window: s.auth.lockout_window_secs.map_or(defaults.window, std::time::Duration::from_secs),
            lockout: s.auth.lockout_secs.map_or(defaults.lockout, std::time::Duration::from_secs),
        };
        let trusted_proxies = s
            .address
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|a| {
                a.trim().parse().map_err(|_| invalid("address.trusted_proxies", format!("not an IP address: {a}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Config {
            limits,
            lockout,
            trusted_proxies,
            metrics_public: s.metrics.public.unwrap_or(false),
            web_dir: s.web.dir,
            tls,
            mail,
            gateway,
            root_key_pair,
            rotation_grace: std::time::Duration::from_secs(
                s.auth.rotation_grace_secs.unwrap_or(DEFAULT_ROTATION_GRACE_SECS),
            ),
            update_queue_limit,
            lock_timeout: std::time::Duration::from_secs(lock_timeout_secs),
            max_restore_bytes,
            root_key,
            data_path: s.data_path.unwrap_or_else(|| PathBuf::from("./data")),
            host,
            port,
            log_level: s.log_level.unwrap_or_else(|| "info".to_owned()),
            max_buffered_packets,
            max_message_bytes,
            subdomain_cache_size: match s.subdomain_cache_size.unwrap_or(DEFAULT_SUBDOMAIN_CACHE_SIZE) {
                0 => return Err(invalid("subdomain_cache_size", "must be at least 1")),
                n => n,
            },
        })
    }
}

/// Shortest root secret accepted: 68 characters of the 16-letter alphabet
/// that `init` (and the Node gateway) draw from carry 272 bits.
const MIN_ROOT_SECRET_CHARS: usize = 68;

/// Refuses a configured root secret that cannot be a random 272-bit key:
/// too short, or made of few distinct characters (`aaaa…`, `abab…`).
fn check_root_secret(secret: &str) -> Result<(), ConfigError> {
    let distinct = secret.bytes().collect::<std::collections::HashSet<_>>().len();
    if secret.len() < MIN_ROOT_SECRET_CHARS || distinct < 10 {
        return Err(invalid(
            "auth.key",
            format!(
                "the secret is too weak for the root key (at least {MIN_ROOT_SECRET_CHARS} random characters); \
                 generate one with `meld-gateway init`"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG_ROOT_KEY: &str =
        "root.abcdef:abcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefghij";

    #[test]
    fn weak_root_secrets_are_refused() {
        for weak in [
            "root.abcdef:secret",
            &format!("root.abcdef:{}", "a".repeat(100)),
            &format!("root.abcdef:{}", "ab".repeat(40)),
        ] {
            let settings = Settings {
                auth: AuthSettings { key: Some(weak.to_string()), ..Default::default() },
                ..Default::default()
            };
            let e = Config::from_settings(settings).unwrap_err().to_string();
            assert!(e.contains("too weak") && !e.contains(weak), "{e}");
        }
        let settings = Settings {
            auth: AuthSettings { key: Some(STRONG_ROOT_KEY.into()), ..Default::default() },
            ..Default::default()
        };
        assert!(Config::from_settings(settings).is_ok());
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn embedded_defaults() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3000));
        assert_eq!(c.data_path, PathBuf::from("./data"));
        assert_eq!(c.gateway.domain, "localhost.test");
        assert!(c.gateway.usable_by_js_clones());
        assert_eq!(c.gateway.origin, "http://localhost:3000/");
        assert!(c.root_key.is_none());
        assert_eq!((c.update_queue_limit, c.lock_timeout.as_secs()), (1000, 300));
    }

    #[test]
    fn backup_settings() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.max_restore_bytes, 1 << 30);
        let file: Settings = toml::from_str("[backup]\nmax_restore_bytes = 4096\n").unwrap();
        let env = Settings::from_env(&env(&[("M_LD_GATEWAY_BACKUP__MAX_RESTORE_BYTES", "8192")])).unwrap();
        assert_eq!(Config::from_settings(file.clone()).unwrap().max_restore_bytes, 4096);
        assert_eq!(Config::from_settings(env.over(file)).unwrap().max_restore_bytes, 8192);
        let tiny: Settings = toml::from_str("[backup]\nmax_restore_bytes = 10\n").unwrap();
        assert!(Config::from_settings(tiny).is_err());
    }

    #[test]
    fn clone_api_settings() {
        let file: Settings = toml::from_str("[clone_api]\nupdate_queue_limit = 5\nlock_timeout_secs = 7\n").unwrap();
        let env = Settings::from_env(&env(&[("M_LD_GATEWAY_CLONE_API__LOCK_TIMEOUT_SECS", "9")])).unwrap();
        let c = Config::from_settings(env.over(file)).unwrap();
        assert_eq!((c.update_queue_limit, c.lock_timeout.as_secs()), (5, 9));
        let zero: Settings = toml::from_str("[clone_api]\nlock_timeout_secs = 0\n").unwrap();
        assert!(Config::from_settings(zero).is_err());
    }

    #[test]
    fn limits_defaults_env_and_validation() {
        let c = Config::from_settings(Settings::default()).unwrap();
        let l = &c.limits;
        assert_eq!((l.relay.per_sec, l.relay.burst, l.relay.max_bytes), (100_000, 200_000, 8 * 1024 * 1024));
        assert_eq!((l.connections.per_ip, l.connections.total), (10_000, 50_000));
        assert_eq!((l.anon_requests.burst, l.requests.burst), (200, 100_000));
        assert_eq!(l.activations_per_email.interval, std::time::Duration::from_secs(1200));
        assert_eq!((l.subdomains_per_account, l.clone_write_bytes, l.body_timeout.as_secs()), (1000, 1 << 20, 30));
        let file: Settings = toml::from_str("[limits]\nconnections_per_ip = 3\nsubdomains_per_account = 9\n").unwrap();
        let from_env = Settings::from_env(&env(&[
            ("M_LD_GATEWAY_LIMITS__CONNECTIONS_PER_IP", "5"),
            ("M_LD_GATEWAY_RELAY__MAX_MESSAGES_PER_SEC", "50"),
            ("M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP", "2"),
            ("M_LD_GATEWAY_CLONE_API__MAX_WRITE_BYTES", "4096"),
        ]))
        .unwrap();
        let l = Config::from_settings(from_env.over(file)).unwrap().limits;
        assert_eq!((l.connections.per_ip, l.subdomains_per_account, l.relay.per_sec), (5, 9, 50));
        assert_eq!((l.activations_per_ip.burst, l.clone_write_bytes), (2, 4096));
        for bad in ["[limits]\nmax_connections = 0", "[relay]\nmessage_burst = 0", "[clone_api]\nmax_write_bytes = 10"]
        {
            assert!(Config::from_settings(toml::from_str(bad).unwrap()).is_err(), "{bad}");
        }
        assert!(Settings::from_env(&env(&[("M_LD_GATEWAY_LIMITS__REQUEST_BURST", "99999999999")])).is_err());
    }

    #[test]
    fn precedence_flags_over_env_over_file() {
        let file: Settings = toml::from_str(
            "gateway = \"file.org\"\ndata_path = \"/file\"\nlog_level = \"warn\"\n[address]\nport = 1111\nhost = \"0.0.0.0\"\n",
        )
        .unwrap();
        let env = Settings::from_env(&env(&[
            ("M_LD_GATEWAY_GATEWAY", "env.org"),
            ("M_LD_GATEWAY_ADDRESS__PORT", "2222"),
            ("M_LD_GATEWAY_AUTH__KEY", STRONG_ROOT_KEY),
            ("LOG_LEVEL", ""),
        ]))
        .unwrap();
        let flags = Settings {
            address: AddressSettings { port: Some(3333), host: None, trusted_proxies: None },
            ..Default::default()
        };
        let c = Config::from_settings(flags.over(env.over(file))).unwrap();
        assert_eq!(c.port, 3333, "flag beats env and file");
        assert_eq!(c.gateway.domain, "env.org", "env beats file");
        assert_eq!(c.host, "0.0.0.0", "file beats default");
        assert_eq!(c.data_path, PathBuf::from("/file"));
        assert_eq!(c.log_level, "warn", "empty env values are unset");
        assert_eq!(c.root_key.unwrap().keyid, "abcdef");
    }

    #[test]
    fn gateway_forms() {
        let g = GatewayName::parse("ex.org").unwrap();
        assert_eq!((g.domain.as_str(), g.origin.as_str()), ("ex.org", "https://ex.org/"));
        let g = GatewayName::parse("http://gw.ex.org:8080/").unwrap();
        assert_eq!((g.domain.as_str(), g.origin.as_str()), ("gw.ex.org", "http://gw.ex.org:8080/"));
        assert!(!GatewayName::parse("localhost").unwrap().usable_by_js_clones());
        assert!(!GatewayName::parse("ex.o").unwrap().usable_by_js_clones());
        for bad in ["ftp://x.org", "http://x.org/path", "x..org", "bad name", "http://u@x.org"] {
            assert!(GatewayName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        assert!(Settings::from_env(&env(&[("M_LD_GATEWAY_ADDRESS__PORT", "70000")])).is_err());
        assert!(Settings::from_env(&env(&[("M_LD_GATEWAY_ADDRESS__PORT", "x")])).is_err());
        let bad_key =
            Settings { auth: AuthSettings { key: Some("nokey".into()), ..Default::default() }, ..Default::default() };
        assert!(Config::from_settings(bad_key).is_err());
        assert!(toml::from_str::<Settings>("unknown = 1").is_err());
    }

    #[test]
    fn smtp_from_the_node_gateway_environment() {
        let s = Settings::from_env(&env(&[
            ("M_LD_GATEWAY_SMTP__HOST", "smtp.ex.org"),
            ("M_LD_GATEWAY_SMTP__PORT", "2465"),
            ("M_LD_GATEWAY_SMTP__SECURE", "true"),
            ("M_LD_GATEWAY_SMTP__FROM", "Gateway <gw@ex.org>"),
            ("M_LD_GATEWAY_SMTP__AUTH__USER", "mailer"),
            ("M_LD_GATEWAY_SMTP__AUTH__PASS", "hunter2"),
        ]))
        .unwrap();
        let c = Config::from_settings(s.clone()).unwrap();
        let smtp = c.mail.smtp.as_ref().unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.tls), ("smtp.ex.org", 2465, SmtpTls::Tls));
        let creds = smtp.credentials.as_ref().unwrap();
        assert_eq!((creds.user.as_str(), creds.reveal_pass()), ("mailer", "hunter2"));
        assert_eq!(c.mail.from.email.to_string(), "gw@ex.org");
        assert!(!format!("{s:?} {c:?}").contains("hunter2"), "the password never prints");
        for (name, bad) in [("SECURE", "maybe"), ("TLS", "ssl"), ("PORT", "65536")] {
            let vars = env(&[(&format!("M_LD_GATEWAY_SMTP__{name}"), bad)]);
            assert!(Settings::from_env(&vars).is_err(), "{name}={bad}");
        }
    }

    #[test]
    fn smtp_tls_mode_and_port_defaults() {
        let resolve = |toml_text: &str| {
            let s: Settings = toml::from_str(&format!("[smtp]\nfrom = \"gw@ex.org\"\n{toml_text}")).unwrap();
            Config::from_settings(s).map(|c| c.mail.smtp.map(|s| (s.tls, s.port)))
        };
        assert_eq!(resolve("").unwrap(), None, "no host: the outbox");
        assert_eq!(resolve("host = \"smtp.ex.org\"").unwrap(), Some((SmtpTls::StartTls, 587)));
        assert_eq!(resolve("host = \"127.0.0.1\"\nport = 25").unwrap(), Some((SmtpTls::None, 25)));
        assert_eq!(resolve("host = \"localhost\"").unwrap(), Some((SmtpTls::None, 587)));
        assert_eq!(resolve("host = \"::1\"").unwrap(), Some((SmtpTls::None, 587)));
        assert_eq!(resolve("host = \"h.ex.org\"\nsecure = true").unwrap(), Some((SmtpTls::Tls, 465)));
        assert_eq!(resolve("host = \"h.ex.org\"\nsecure = false").unwrap(), Some((SmtpTls::StartTls, 587)));
        assert_eq!(resolve("host = \"h.ex.org\"\ntls = \"none\"").unwrap(), Some((SmtpTls::None, 587)));
        assert_eq!(resolve("host = \"127.0.0.1\"\ntls = \"starttls\"").unwrap(), Some((SmtpTls::StartTls, 587)));
        assert_eq!(resolve("host = \"h\"\ntls = \"tls\"\nsecure = true").unwrap(), Some((SmtpTls::Tls, 465)));
        assert!(resolve("host = \"h\"\ntls = \"starttls\"\nsecure = true").is_err(), "contradiction");
        assert!(resolve("host = \"h\"\ntls = \"tls\"\nsecure = false").is_err(), "contradiction");
        assert!(toml::from_str::<Settings>("[smtp]\ntls = \"ssl\"").is_err());
    }

    #[test]
    fn smtp_settings_that_cannot_work_are_refused() {
        let check = |toml_text: &str| Config::from_settings(toml::from_str(toml_text).unwrap());
        let err = check("[smtp]\nhost = \"smtp.ex.org\"").unwrap_err().to_string();
        assert!(err.contains("smtp.from") && err.contains("required"), "{err}");
        assert!(check("[smtp]\nhost = \"h.ex.org\"\nfrom = \"not an address\"").is_err());
        let half_auth = "[smtp]\nhost = \"h.ex.org\"\nfrom = \"a@ex.org\"\n[smtp.auth]\nuser = \"u\"";
        assert!(check(half_auth).is_err());
        let plain_auth = "[smtp]\nhost = \"h.ex.org\"\nfrom = \"a@ex.org\"\ntls = \"none\"\n\
                          [smtp.auth]\nuser = \"u\"\npass = \"p\"";
        assert!(check(plain_auth).unwrap_err().to_string().contains("plain text"));
        // To this machine, plain text with a password is allowed
        assert!(check(&plain_auth.replace("h.ex.org", "127.0.0.1")).is_ok());
        // Without a host the sender defaults to noreply@<gateway domain>
        let c = check("gateway = \"ex.org\"").unwrap();
        assert_eq!(c.mail.from.email.to_string(), "noreply@ex.org");
    }

    #[test]
    fn smtp_layers_merge_field_by_field() {
        let file: Settings =
            toml::from_str("[smtp]\nhost = \"file.ex.org\"\nfrom = \"a@ex.org\"\nport = 2525").unwrap();
        let env = Settings::from_env(&env(&[("M_LD_GATEWAY_SMTP__HOST", "env.ex.org")])).unwrap();
        let smtp = Config::from_settings(env.over(file)).unwrap().mail.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("env.ex.org", 2525));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = Settings {
            auth: AuthSettings { key: Some("root.abc:supersecret".into()), ..Default::default() },
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("supersecret"));
    }
}
