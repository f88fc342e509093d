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
  M_LD_GATEWAY_RELAY__MAX_BUFFERED_PACKETS, M_LD_GATEWAY_RELAY__MAX_MESSAGE_BYTES
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
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Init(args) => init(args),
        Command::Health(args) => health(args),
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
