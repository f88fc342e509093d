//! The mailer: sends account activation codes by SMTP (lettre) when
//! `smtp.host` is configured, or writes each message as an `.eml` file to
//! `<data_path>/outbox/` when it is not, so a gateway without a mail server
//! still lets its operator hand codes on. It knows nothing of accounts,
//! codes' lifetimes or HTTP: callers decide who gets which code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Config, MailConfig, SmtpServer, SmtpTls};

/// Name of the outbox folder under the data path.
pub const OUTBOX_DIR: &str = "outbox";
/// Connecting to the SMTP server, and each of its replies, may take this long.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// A whole SMTP delivery may take this long: a stuck server must not hold
/// the request that asked for a code.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an activation code is valid, as the email tells its reader. The
/// accounts layer enforces it; this is the Node gateway's 10 minutes.
const CODE_VALIDITY_MINUTES: u32 = 10;

/// A mail failure. `Display` is short and safe to show to a client;
/// [`MailError::detail`] is for the log.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient address is not a valid email address.
    #[error("invalid email address")]
    BadAddress(#[source] lettre::address::AddressError),
    /// The message could not be put together (e.g. a header value).
    #[error("email could not be sent")]
    Build(#[source] lettre::error::Error),
    /// The SMTP server refused the message or could not be reached.
    #[error("email could not be sent")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The SMTP delivery took longer than allowed.
    #[error("email could not be sent")]
    Timeout,
    /// The outbox file could not be written.
    #[error("email could not be sent")]
    Outbox {
        /// The file or folder concerned.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl MailError {
    /// The whole cause chain, for the log (never holds the code or a password).
    pub fn detail(&self) -> String {
        let mut detail = match self {
            MailError::BadAddress(_) => "recipient address".to_owned(),
            MailError::Build(_) => "building the message".to_owned(),
            MailError::Smtp(_) => "SMTP delivery".to_owned(),
            MailError::Timeout => format!("SMTP delivery took over {SEND_TIMEOUT:?}"),
            MailError::Outbox { path, .. } => format!("writing {}", path.display()),
        };
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        detail
    }

    /// Whether the caller gave a bad address (a client error), rather than
    /// the mail system failing (a server error).
    pub fn is_bad_address(&self) -> bool {
        matches!(self, MailError::BadAddress(_))
    }
}

/// Sends activation codes. Cheap to clone: share one in application state.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    from: Mailbox,
    /// The gateway's domain name: subject line, Message-ID, SMTP `EHLO`.
    gateway: String,
}

enum Transport {
    Smtp { client: AsyncSmtpTransport<Tokio1Executor>, server: String },
    Outbox(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.inner.transport {
            Transport::Smtp { server, .. } => format!("smtp {server}"),
            Transport::Outbox(dir) => format!("outbox {}", dir.display()),
        };
        f.debug_struct("Mailer").field("transport", &transport).field("from", &self.inner.from).finish()
    }
}

impl Mailer {
    /// The mailer the configuration asks for: SMTP if `smtp.host` is set,
    /// else the outbox under the data path (created, mode 0700). Start-up
    /// only: blocking file I/O.
    pub fn from_config(config: &Config) -> Result<Mailer, MailError> {
        Mailer::new(&config.mail, &config.data_path, &config.gateway.domain)
    }

    /// A mailer from validated mail settings (see [`Mailer::from_config`]).
    pub fn new(mail: &MailConfig, data_path: &Path, gateway: &str) -> Result<Mailer, MailError> {
        let transport = match &mail.smtp {
            Some(server) => {
                let client = smtp_client(server, gateway)?;
                let name = format!("{}:{} (tls {})", server.host, server.port, server.tls);
                tracing::info!(server = %name, from = %mail.from, "activation emails go by SMTP");
                Transport::Smtp { client, server: name }
            }
            None => {
                let dir = data_path.join(OUTBOX_DIR);
                create_private_dir(&dir).map_err(|source| MailError::Outbox { path: dir.clone(), source })?;
                tracing::info!(outbox = %dir.display(), "no smtp.host: activation emails are written to the outbox");
                Transport::Outbox(dir)
            }
        };
        Ok(Mailer { inner: Arc::new(Inner { transport, from: mail.from.clone(), gateway: gateway.to_owned() }) })
    }

    /// Emails `code` to `to`, to activate (or add a key to) `account`.
    #[tracing::instrument(skip_all, fields(to = %to, account = %account))]
    pub async fn send_activation_code(&self, to: &str, account: &str, code: &str) -> Result<(), MailError> {
        let to: Address = to.trim().parse().map_err(MailError::BadAddress)?;
        let message = self.activation_message(to, account, code)?;
        match &self.inner.transport {
            Transport::Smtp { client, server } => {
                let sent = tokio::time::timeout(SEND_TIMEOUT, client.send(message))
                    .await
                    .map_err(|_| MailError::Timeout)?
                    .map_err(MailError::Smtp)?;
                tracing::info!(server = %server, reply = %sent.code(), "activation email sent");
            }
            Transport::Outbox(dir) => {
                let path = write_outbox(dir, message).await?;
                tracing::info!(file = %path.display(), "activation email written to the outbox");
            }
        }
        Ok(())
    }

    fn activation_message(&self, to: Address, account: &str, code: &str) -> Result<Message, MailError> {
        let inner = &self.inner;
        Message::builder()
            .from(inner.from.clone())
            .to(Mailbox::new(None, to))
            .subject(format!("Your {} activation code", inner.gateway))
            .message_id(Some(format!("<{}@{}>", hex::encode(rand::random::<[u8; 16]>()), inner.gateway)))
            .header(ContentType::TEXT_PLAIN)
            .body(activation_body(account, code))
            .map_err(MailError::Build)
    }
}

/// The plain-text body. Readers (and the acceptance suite) find the code as
/// the only six-digit number, so nothing else in it may look like one.
fn activation_body(account: &str, code: &str) -> String {
    // An account name such as `shop-123456` would be a second code to a
    // reader scanning for six digits: leave such a name out
    let for_account =
        if six_digit_numbers(account) == 0 { format!(" for the account \"{account}\"") } else { String::new() };
    format!(
        "Your activation code{for_account} is:\n\
         \n\
         \x20   {code}\n\
         \n\
         It is valid for {CODE_VALIDITY_MINUTES} minutes.\n\
         If you did not ask for it, you can ignore this email.\n"
    )
}

/// How many separate six-digit numbers `text` holds (as `\b\d{6}\b` finds them).
fn six_digit_numbers(text: &str) -> usize {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.split(|c: char| !word(c)).filter(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit())).count()
}

fn smtp_client(server: &SmtpServer, gateway: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let tls_params = || TlsParameters::new(server.host.clone()).map_err(MailError::Smtp);
    let tls = match server.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(tls_params()?),
        SmtpTls::Tls => Tls::Wrapper(tls_params()?),
    };
    // The gateway's name in EHLO, as the Node gateway (nodemailer `name`) does
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
        .port(server.port)
        .tls(tls)
        .hello_name(ClientId::Domain(gateway.to_owned()))
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(c) = &server.credentials {
        builder = builder.credentials(Credentials::new(c.user.clone(), c.reveal_pass().to_owned()));
    }
    Ok(builder.build())
}

/// Creates the outbox folder, readable by its owner only (codes are in it).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    // An existing folder keeps its mode under `create`: tighten it
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}

/// Writes the message as a new `<unix millis>-<random>.eml` file, mode 0600.
async fn write_outbox(dir: &Path, message: Message) -> Result<PathBuf, MailError> {
    let millis =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let path = dir.join(format!("{millis}-{}.eml", hex::encode(rand::random::<[u8; 4]>())));
    let file = path.clone();
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&file)?;
        out.write_all(&message.formatted())?;
        out.sync_all()
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r);
    written.map_err(|source| MailError::Outbox { path: path.clone(), source })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "402931";

    fn mail_config(smtp: Option<SmtpServer>) -> MailConfig {
        MailConfig { smtp, from: "Gateway <gw@ex.org>".parse().unwrap() }
    }

    #[test]
    fn body_holds_the_code_once_and_no_other_six_digit_number() {
        let body = activation_body("acc-9f3e2a1b0c", CODE);
        assert_eq!(body.matches(CODE).count(), 1);
        assert_eq!(six_digit_numbers(&body), 1, "{body}");
        assert!(body.contains("\"acc-9f3e2a1b0c\""), "names the account: {body}");
        assert!(body.contains("10 minutes"));
        // A name that looks like a code is left out
        let body = activation_body("shop-123456", CODE);
        assert_eq!(six_digit_numbers(&body), 1, "{body}");
        assert!(!body.contains("123456"));
    }

    #[test]
    fn six_digit_numbers_are_counted_as_a_regex_word_match_would() {
        assert_eq!(six_digit_numbers("123456"), 1);
        assert_eq!(six_digit_numbers("a-123456 and 654321."), 2);
        for none in ["1234567", "12345", "a123456", "123456b", "_123456", "10 minutes"] {
            assert_eq!(six_digit_numbers(none), 0, "{none}");
        }
    }

    #[tokio::test]
    async fn outbox_writes_an_owner_only_eml_file_with_the_code() {
        let data = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&mail_config(None), data.path(), "ex.org").unwrap();
        mailer.send_activation_code("alice@example.com", "alice", CODE).await.unwrap();
        let outbox = data.path().join(OUTBOX_DIR);
        let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().unwrap(), "eml");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("To: alice@example.com"), "{text}");
        assert!(text.contains("From: Gateway <gw@ex.org>"), "{text}");
        assert!(text.contains("Subject: Your ex.org activation code"), "{text}");
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.matches(CODE).count(), 1, "{body}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777, 0o700);
            assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_bad_recipient_is_an_error_and_sends_nothing() {
        let data = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&mail_config(None), data.path(), "ex.org").unwrap();
        for bad in ["", "nobody", "a@b@c", "x@", "@ex.org", "a b@ex.org", "a@ex.org\r\nBcc: c@ex.org"] {
            let err = mailer.send_activation_code(bad, "alice", CODE).await.unwrap_err();
            assert!(err.is_bad_address(), "{bad:?}: {err:?}");
            assert_eq!(err.to_string(), "invalid email address");
        }
        assert_eq!(std::fs::read_dir(data.path().join(OUTBOX_DIR)).unwrap().count(), 0);
    }

    /// What the test SMTP server saw in one session.
    #[derive(Debug, Default)]
    struct Session {
        ehlo: String,
        mail_from: String,
        rcpt_to: Vec<String>,
        data: String,
    }

    /// A one-session SMTP server on loopback: EHLO, MAIL, RCPT, DATA, QUIT,
    /// no extensions (so no STARTTLS, no AUTH). `reject_rcpt` answers 550.
    async fn smtp_server(reject_rcpt: bool) -> (u16, tokio::task::JoinHandle<Session>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut session = Session::default();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            let mut in_data = false;
            while let Some(line) = lines.next_line().await.unwrap() {
                if in_data {
                    if line == "." {
                        in_data = false;
                        write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                    } else {
                        let line = line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line);
                        session.data.push_str(line);
                        session.data.push_str("\r\n");
                    }
                    continue;
                }
                let angle = || line.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(a, _)| a.to_owned());
                let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => {
                        session.ehlo = line[5..].to_owned();
                        b"250-test\r\n250 8BITMIME\r\n"
                    }
                    "MAIL" => {
                        session.mail_from = angle().unwrap();
                        b"250 2.1.0 OK\r\n"
                    }
                    "RCPT" if reject_rcpt => b"550 5.1.1 no such user\r\n",
                    "RCPT" => {
                        session.rcpt_to.push(angle().unwrap());
                        b"250 2.1.5 OK\r\n"
                    }
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "RSET" | "NOOP" => b"250 OK\r\n",
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"502 not implemented\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
            session
        });
        (port, task)
    }

    fn loopback(port: u16, tls: SmtpTls) -> SmtpServer {
        SmtpServer { host: "127.0.0.1".into(), port, tls, credentials: None }
    }

    #[tokio::test]
    async fn smtp_delivers_the_code_with_the_right_envelope() {
        let (port, server) = smtp_server(false).await;
        let data = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&mail_config(Some(loopback(port, SmtpTls::None))), data.path(), "ex.org").unwrap();
        mailer.clone().send_activation_code("Bob@Example.com", "bob", CODE).await.unwrap();
        let session = server.await.unwrap();
        assert_eq!(session.ehlo, "ex.org", "the gateway's name in EHLO");
        assert_eq!(session.mail_from, "gw@ex.org");
        assert_eq!(session.rcpt_to, ["Bob@Example.com"]);
        assert!(session.data.contains("Subject: Your ex.org activation code\r\n"), "{}", session.data);
        let (_, body) = session.data.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.matches(CODE).count(), 1, "{body}");
        assert_eq!(six_digit_numbers(body), 1, "{body}");
        assert!(body.contains("\"bob\""));
        assert!(!data.path().join(OUTBOX_DIR).exists(), "no outbox when SMTP is configured");
    }

    #[tokio::test]
    async fn smtp_refusals_and_missing_starttls_are_errors() {
        let data = tempfile::tempdir().unwrap();
        let (port, server) = smtp_server(true).await;
        let mailer = Mailer::new(&mail_config(Some(loopback(port, SmtpTls::None))), data.path(), "ex.org").unwrap();
        let err = mailer.send_activation_code("bob@example.com", "bob", CODE).await.unwrap_err();
        assert!(matches!(err, MailError::Smtp(_)), "{err:?}");
        assert_eq!(err.to_string(), "email could not be sent");
        assert!(err.detail().contains("no such user"), "{}", err.detail());
        assert!(!err.detail().contains(CODE));
        drop(server);

        // The server offers no STARTTLS: required TLS refuses to send
        let (port, _server) = smtp_server(false).await;
        let mailer = Mailer::new(&mail_config(Some(loopback(port, SmtpTls::StartTls))), data.path(), "ex.org").unwrap();
        let err = mailer.send_activation_code("bob@example.com", "bob", CODE).await.unwrap_err();
        assert!(matches!(err, MailError::Smtp(_)), "{err:?}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let mut server = loopback(25, SmtpTls::Tls);
        let config: crate::config::Settings = toml::from_str(
            "[smtp]\nhost = \"h.ex.org\"\nfrom = \"a@ex.org\"\n[smtp.auth]\nuser = \"u\"\npass = \"hunter2\"\n",
        )
        .unwrap();
        let config = crate::config::Config::from_settings(config).unwrap();
        server.credentials = config.mail.smtp.as_ref().unwrap().credentials.clone();
        let data = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&mail_config(Some(server)), data.path(), "ex.org").unwrap();
        assert!(!format!("{mailer:?} {config:?}").contains("hunter2"));
    }
}
