//! `init --self-signed`: a development certificate authority and a
//! certificate for this machine's names, made with rcgen, so the gateway can
//! serve HTTPS/WSS locally. Clients trust `ca.pem` (Node:
//! `NODE_EXTRA_CA_CERTS=ca.pem`; browsers: import it). Not for production.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use crate::rootkey::write_private;

/// The files written.
pub struct DevCert {
    /// The CA certificate to trust.
    pub ca: PathBuf,
    /// The server certificate chain (`tls.cert`).
    pub cert: PathBuf,
    /// The server private key (`tls.key`), mode 0600.
    pub key: PathBuf,
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir` for `localhost`,
/// `127.0.0.1`, `::1` and `host` (if another name). Never overwrites.
pub fn write(dir: &Path, host: &str) -> anyhow::Result<DevCert> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(DnType::CommonName, "meld-gateway development CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if !names.iter().any(|n| n == host) {
        names.push(host.to_owned());
    }
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(DnType::CommonName, host);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;

    let files = DevCert { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    write_private(&files.key, key.serialize_pem().trim_end())?;
    write_new(&files.cert, &cert.pem())?;
    write_new(&files.ca, &ca_cert.pem())?;
    Ok(files)
}

fn write_new(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, content.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_chain_the_tls_acceptor_takes() {
        let dir = tempfile::tempdir().unwrap();
        let files = write(dir.path(), "gw.test").unwrap();
        crate::listen::tls_acceptor(&files.cert, &files.key).unwrap();
        assert!(std::fs::read_to_string(&files.ca).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(write(dir.path(), "gw.test").is_err(), "never overwrites");
    }
}
