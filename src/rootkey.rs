//! The root account key: from configuration, or generated on first start and
//! kept in `<data>/root.key` (mode 0600) so later starts find it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use std::sync::Arc;

use tokio::sync::watch;

use crate::auth::AuthKey;
use crate::auth::rsa_pair::{self, RsaKeyConfig};

/// Root account name used when the gateway generates its own root key.
pub const DEFAULT_ROOT_ACCOUNT: &str = "root";
/// File name of the generated root key in the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";

/// Where the root key came from.
#[derive(Debug, PartialEq)]
pub enum Origin {
    /// `M_LD_GATEWAY_AUTH__KEY`, the config file or a flag.
    Configured,
    /// The data directory's key file.
    Stored(PathBuf),
    /// Generated now and stored in this file: show it to the operator once.
    Generated(PathBuf),
}

/// The root key to use, and where it came from. Blocking file I/O: start-up only.
pub fn load_or_create(data_path: &Path, configured: Option<AuthKey>) -> anyhow::Result<(AuthKey, Origin)> {
    if let Some(key) = configured {
        return Ok((key, Origin::Configured));
    }
    let path = data_path.join(ROOT_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            refuse_if_readable_by_others(&path)?;
            let key = AuthKey::parse(text.trim())
                .with_context(|| format!("{} does not hold a valid root key", path.display()))?;
            Ok((key, Origin::Stored(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = AuthKey::generate(DEFAULT_ROOT_ACCOUNT)?;
            write_private(&path, &key.reveal())?;
            Ok((key, Origin::Generated(path)))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A key file that its group or others can read is refused: whoever can read
/// it holds the gateway.
pub fn refuse_if_readable_by_others(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "{} is readable by other users (mode {:o}); run `chmod 600 {}` and start again",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

/// Creates the data directory if need be and makes it private to the
/// gateway's user (0700): it holds keys and everyone's data.
pub fn ensure_private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create data directory {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot make {} private (mode {mode:o})", path.display()))?;
            tracing::info!(dir = %path.display(), was = format!("{mode:o}"), "data directory made private (0700)");
        }
    }
    Ok(())
}

/// Writes a new file readable by its owner only; never overwrites.
pub fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{content}")?;
    file.sync_all()?;
    Ok(())
}

/// File name of the generated root key pair in the data directory.
pub const ROOT_PAIR_FILE: &str = "root-keypair.json";

type PemState = Option<Result<Arc<str>, Arc<str>>>;

/// The root public key as PEM, published at `/api/v1/publicKey`. Generating
/// an RSA pair takes a moment, so a first start does it in the background
/// and serves everything else meanwhile.
#[derive(Clone)]
pub struct RootPublicKey(watch::Receiver<PemState>);

impl RootPublicKey {
    /// Uses the configured pair (refusing one whose halves do not fit or
    /// whose private half the root secret does not open), else the data
    /// directory's, else generates one there.
    pub fn start(data_path: &Path, configured: Option<RsaKeyConfig>, root: &AuthKey) -> anyhow::Result<Self> {
        if let Some(pair) = configured {
            rsa_pair::check_pair(&pair, root.secret())
                .context("the configured root key pair (key.public, key.private)")?;
            let pem = rsa_pair::public_pem(&pair.public)?;
            return Ok(RootPublicKey(watch::channel(Some(Ok(pem.into()))).1));
        }
        let (tx, rx) = watch::channel(None);
        let path = data_path.join(ROOT_PAIR_FILE);
        let root = root.clone();
        std::thread::Builder::new().name("root-keypair".into()).spawn(move || {
            let result = load_or_generate_pair(&path, &root).map_err(|e| {
                tracing::error!(error = format!("{e:#}"), file = %path.display(), "no root key pair");
                Arc::<str>::from("root public key unavailable")
            });
            let _ = tx.send(Some(result.map(Arc::from)));
        })?;
        Ok(RootPublicKey(rx))
    }

    /// The PEM, waiting for a first start's generation if need be.
    pub async fn pem(&self) -> Result<Arc<str>, Arc<str>> {
        let mut rx = self.0.clone();
        let wait = rx.wait_for(Option::is_some);
        match tokio::time::timeout(std::time::Duration::from_secs(30), wait).await {
            Ok(Ok(state)) => state.clone().unwrap_or_else(|| Err("root public key unavailable".into())),
            _ => Err("root public key not ready, try again".into()),
        }
    }
}

fn load_or_generate_pair(path: &Path, root: &AuthKey) -> anyhow::Result<String> {
    let pair: RsaKeyConfig = match std::fs::read_to_string(path) {
        Ok(text) => {
            refuse_if_readable_by_others(path)?;
            serde_json::from_str(&text).with_context(|| format!("{} is not a key pair", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pair = rsa_pair::generate(root.secret())?;
            write_private(path, &serde_json::to_string(&pair)?)?;
            tracing::info!(file = %path.display(), "generated the root key pair");
            pair
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(rsa_pair::public_pem(&pair.public)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let (key, origin) = load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(ROOT_KEY_FILE);
        assert_eq!(origin, Origin::Generated(path.clone()));
        assert_eq!(key.app, DEFAULT_ROOT_ACCOUNT);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(dir.path(), None).unwrap();
        assert_eq!(again, key);
        assert_eq!(origin, Origin::Stored(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = load_or_create(dir.path(), None).unwrap_err();
            assert!(format!("{refused:#}").contains("chmod 600"), "{refused:#}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let configured = AuthKey::parse("boss.abcdef:xyz").unwrap();
        assert_eq!(load_or_create(dir.path(), Some(configured.clone())).unwrap(), (configured, Origin::Configured));
    }

    #[tokio::test]
    async fn root_pair_generated_once_or_configured() {
        let dir = tempfile::tempdir().unwrap();
        let root = AuthKey::generate("root").unwrap();
        let pem = RootPublicKey::start(dir.path(), None, &root).unwrap().pem().await.unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let again = RootPublicKey::start(dir.path(), None, &root).unwrap().pem().await.unwrap();
        assert_eq!(pem, again, "the stored pair is reused");
        let stored: RsaKeyConfig =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(ROOT_PAIR_FILE)).unwrap()).unwrap();
        // A configured pair is checked against the root secret
        let other = tempfile::tempdir().unwrap();
        let configured = RootPublicKey::start(other.path(), Some(stored.clone()), &root).unwrap();
        assert_eq!(configured.pem().await.unwrap(), pem);
        let stranger = AuthKey::generate("root").unwrap();
        assert!(RootPublicKey::start(other.path(), Some(stored), &stranger).is_err());
    }
}
