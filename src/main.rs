//! `meld-gateway`: command line. Parses flags, layers configuration
//! (defaults < file < environment < flags) and runs a subcommand.

use std::collections::HashMap;

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use meld_gateway::auth::AuthKey;
use meld_gateway::config::{AddressSettings, Config, GatewayName, RelaySettings, Settings};
use meld_gateway::{rootkey, server, telemetry};

const ENV_HELP: &str = "\
Environment (overridden by flags, overriding the config file):
  M_LD_GATEWAY_GATEWAY          external hostname or origin, e.g. ex.org or https://gw.ex.org
  M_LD_GATEWAY_AUTH__KEY        root key <root-account>.<keyid>:<secret>
  M_LD_GATEWAY_DATA_PATH        data directory (default ./data)
  M_LD_GATEWAY_ADDRESS__HOST    listen host (default 127.0.0.1)
  M_LD_GATEWAY_ADDRESS__PORT    listen port (default 3000)
  M_LD_GATEWAY_RELAY__MAX_BUFFERED_PACKETS, M_LD_GATEWAY_RELAY__MAX_MESSAGE_BYTES,
  M_LD_GATEWAY_RELAY__MAX_MESSAGES_PER_SEC, M_LD_GATEWAY_RELAY__MESSAGE_BURST
  M_LD_GATEWAY_LIMITS__*        connections, request rates, activations, subdomains, body
                                timeout (see config.example.toml [limits])
  M_LD_GATEWAY_BACKUP__MAX_RESTORE_BYTES  largest backup a restore accepts (default 1 GiB)
  M_LD_GATEWAY_CONFIG           config file (TOML; see config.example.toml)
  LOG_LEVEL                     trace, debug, info (default), warn, error, or a tracing filter";

/// A Socket.io relay, backup clones and HTTP APIs for m-ld apps.
#[derive(Parser)]
#[command(version, about, after_help = ENV_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (with no configuration: 127.0.0.1:3000, data in ./data,
    /// a root key generated on first start).
    Serve(ServeArgs),
    /// Write a new configuration with fresh root key material (like the Node
    /// gateway's genenv), as environment variables or TOML.
    Init(InitArgs),
    /// Probe a running gateway's /healthz, with the same settings as serve
    /// (for Docker's HEALTHCHECK); exits 0 if it answers 200. With TLS
    /// configured, only checks that the port accepts connections.
    Health(ServeArgs),
    /// Check every store offline, with the same settings as serve: the
    /// accounts, and each backup clone's data against its integrity digest
    /// and its own structure. Prints one line per problem and a summary.
    /// Exit status: 0 clean, 1 corruption found, 2 could not check (no
    /// database, or a running gateway holds it).
    Verify(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// External hostname or origin.
    #[arg(long)]
    gateway: Option<String>,
    /// Data directory.
    #[arg(long)]
    data_path: Option<PathBuf>,
    /// Listen host.
    #[arg(long)]
    host: Option<String>,
    /// Listen port (0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Log level or tracing filter.
    #[arg(long)]
    log_level: Option<String>,
}

#[derive(Args)]
struct InitArgs {
    /// External hostname or origin of the new gateway.
    #[arg(long, default_value = "localhost")]
    gateway: String,
    /// Root account name.
    #[arg(long, default_value = rootkey::DEFAULT_ROOT_ACCOUNT)]
    root: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "env")]
    format: Format,
    /// File to write (created with mode 0600; never overwritten). Prints to
    /// stdout without it.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Also write a development CA and a certificate for localhost and the
    /// gateway's host into --tls-dir, and configure TLS with them.
    #[arg(long)]
    self_signed: bool,
    /// Where --self-signed writes ca.pem, cert.pem and key.pem.
    #[arg(long, default_value = "tls")]
    tls_dir: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// `KEY=value` lines for an env file.
    Env,
    /// A TOML config file.
    Toml,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Verify(args) = cli.command {
        return verify(args);
    }
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Init(args) => init(args),
        Command::Health(args) => health(args),
        Command::Verify(_) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meld-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    telemetry::init(&config.log_level, Some(&config.data_path))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(server::run(config))
}

fn health(args: ServeArgs) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let config = load_config(args)?;
    // A gateway listening on every interface answers on loopback
    let host = match config.host.as_str() {
        "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    let timeout = std::time::Duration::from_secs(3);
    let addr = (host, config.port).to_socket_addrs()?.next().ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("no gateway at {addr}"))?;
    if config.tls.is_some() {
        println!("ok (port {} accepts connections)", config.port);
        return Ok(());
    }
    tcp.set_read_timeout(Some(timeout))?;
    write!(tcp, "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head)?;
    if head.starts_with(b"HTTP/1.1 200") {
        println!("ok");
        Ok(())
    } else {
        anyhow::bail!("unhealthy: {}", String::from_utf8_lossy(&head))
    }
}

fn load_config(args: ServeArgs) -> anyhow::Result<Config> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let file = match args
        .config
        .clone()
        .or_else(|| env.get("M_LD_GATEWAY_CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from))
    {
        Some(path) => Settings::from_file(&path)?,
        None => Settings::default(),
    };
    let flags = Settings {
        gateway: args.gateway,
        data_path: args.data_path,
        log_level: args.log_level,
        address: AddressSettings { host: args.host, port: args.port, trusted_proxies: None },
        relay: RelaySettings::default(),
        ..Default::default()
    };
    Ok(Config::from_settings(flags.over(Settings::from_env(&env)?.over(file)))?)
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    let gateway = GatewayName::parse(&args.gateway)?;
    if !meld_gateway::accounts::naming::is_component(&args.root) {
        anyhow::bail!("root account name must be lowercase letters, digits, - or _");
    }
    let root = AuthKey::generate(&args.root)?;
    // The root key pair, its private half encrypted with the root secret (the
    // Node gateway's encoding, so the variables carry over either way)
    let pair = meld_gateway::auth::rsa_pair::generate(root.secret())?;
    let private = pair.private.unwrap_or_default();
    let key = root.reveal();
    let mut text = match args.format {
        Format::Env => format!(
            "# meld-gateway configuration; domain {domain}\nM_LD_GATEWAY_GATEWAY={gw}\nM_LD_GATEWAY_AUTH__KEY={key}\n\
             M_LD_GATEWAY_KEY__TYPE=rsa\nM_LD_GATEWAY_KEY__PUBLIC={public}\nM_LD_GATEWAY_KEY__PRIVATE={private}\n",
            domain = gateway.domain,
            gw = args.gateway,
            public = pair.public,
        ),
        Format::Toml => format!(
            "# meld-gateway configuration; domain {domain}\ngateway = {gw:?}\n\n[auth]\nkey = {key:?}\n\n\
             [key]\ntype = \"rsa\"\npublic = {public:?}\nprivate = {private:?}\n",
            domain = gateway.domain,
            gw = args.gateway,
            public = pair.public,
        ),
    };
    if args.self_signed {
        let files = meld_gateway::devcert::write(&args.tls_dir, &gateway.domain)?;
        let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        let (cert, key) = (abs(&files.cert), abs(&files.key));
        text.push_str(&match args.format {
            Format::Env => {
                format!("M_LD_GATEWAY_TLS__CERT={}\nM_LD_GATEWAY_TLS__KEY={}\n", cert.display(), key.display())
            }
            Format::Toml => format!("\n[tls]\ncert = {:?}\nkey = {:?}\n", cert, key),
        });
        eprintln!(
            "wrote a development CA and certificate into {}; clients trust {} (Node: NODE_EXTRA_CA_CERTS)",
            args.tls_dir.display(),
            abs(&files.ca).display()
        );
    }
    match args.out {
        Some(path) => {
            rootkey::write_private(&path, text.trim_end())?;
            eprintln!("wrote {} (mode 0600); root account {:?}, domain {}", path.display(), args.root, gateway.domain);
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Exit status of `verify` when it could not check at all.
const CANNOT_CHECK: u8 = 2;

/// `meld-gateway verify`: 0 clean, 1 corruption, 2 could not check.
fn verify(args: ServeArgs) -> ExitCode {
    use meld_gateway::store::{Store, StoreError};
    use meld_gateway::verify as check;

    let cannot = |message: String| {
        eprintln!("meld-gateway verify: {message}");
        ExitCode::from(CANNOT_CHECK)
    };
    let config = match load_config(args) {
        Ok(config) => config,
        Err(e) => return cannot(format!("{e:#}")),
    };
    let dir = config.data_path.join("db");
    if !dir.join("conf").exists() {
        return cannot(format!("no database in {}", dir.display()));
    }
    let store = match Store::open(&dir) {
        Ok(store) => store,
        // sled locks its files: another process (a running gateway) has them.
        // sled says so only in the message of an `Other` I/O error.
        Err(StoreError::Sled(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
            return cannot(format!(
                "the database in {} is in use by a running gateway; stop it first (verify runs offline)",
                dir.display()
            ));
        }
        Err(e) => return cannot(format!("cannot open the database in {}: {e}", dir.display())),
    };
    let domains = check::stored_domains(&store);
    let progress = Progress::new(domains.len() as u64 + 1);
    let mut corrupted: Vec<String> = Vec::new();
    let mut failed = false;
    let mut report = |scope: &str, found: Result<check::StoreReport, String>, progress: &Progress| match found {
        Ok(check::StoreReport { problems, notes }) if problems.is_empty() => {
            progress.print(notes.iter().map(|n| format!("{scope}: note: {n}")));
            progress.done(scope, "ok");
        }
        Ok(check::StoreReport { problems, .. }) => {
            progress.done(scope, "CORRUPT");
            progress.print(problems.iter().map(|p| format!("{scope}: {p}")));
            corrupted.push(scope.to_owned());
        }
        Err(e) => {
            progress.done(scope, "cannot check");
            progress.print([format!("{scope}: cannot check: {e}")]);
            failed = true;
        }
    };
    progress.start("accounts");
    let accounts = check::check_accounts(&store).map(|problems| check::StoreReport { problems, notes: Vec::new() });
    report("accounts", accounts.map_err(|e| e.to_string()), &progress);
    let gateway_domain = &config.gateway.domain;
    for (account, name) in &domains {
        let scope = format!("domain {account}/{name}");
        progress.start(&scope);
        let found = check::check_domain(&store, gateway_domain, account, name);
        report(&scope, found.map_err(|e| e.to_string()), &progress);
    }
    progress.finish();
    if corrupted.is_empty() && !failed {
        let plural = if domains.len() == 1 { "" } else { "s" };
        println!("verify: clean (accounts and {} domain{plural} checked)", domains.len());
        ExitCode::SUCCESS
    } else if corrupted.is_empty() {
        println!("verify: no corruption found, but some stores could not be checked");
        ExitCode::from(CANNOT_CHECK)
    } else {
        println!("verify: CORRUPTION in {} of {} stores: {}", corrupted.len(), domains.len() + 1, corrupted.join(", "));
        ExitCode::FAILURE
    }
}

/// Progress of a long command: an indicatif bar on a terminal, plain lines
/// on stderr otherwise (logs, CI). Problems go to stdout either way.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: u64) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {wide_msg}") {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar }
    }

    /// Checking one store begins (the bar says which).
    fn start(&self, scope: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("checking {scope}"));
        }
    }

    /// One store checked.
    fn done(&self, scope: &str, verdict: &str) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => eprintln!("{scope}: {verdict}"),
        }
    }

    /// Lines on stdout, without tearing the bar.
    fn print(&self, lines: impl IntoIterator<Item = String>) {
        let print = || lines.into_iter().for_each(|line| println!("{line}"));
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
