//! TLS to handlers: the roots a delivery trusts (Mozilla's, or a route's own CA bundle) and the rustls
//! client configuration built from them.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Why a CA bundle could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA bundle {path}: {message}")]
    Read { path: String, message: String },
    #[error("CA bundle {path} holds no PEM certificate")]
    Empty { path: String },
    #[error("CA bundle {path}: certificate {index} is not usable: {message}")]
    Certificate {
        path: String,
        index: usize,
        message: String,
    },
}

/// The certificates a route's deliveries trust instead of the public roots.
#[derive(Debug)]
pub struct TrustRoots {
    /// Identifies the bundle's content, so equal bundles share one connection pool.
    id: u64,
    store: Arc<RootCertStore>,
}

impl TrustRoots {
    /// Reads a PEM bundle (one or more `CERTIFICATE` blocks).
    pub fn from_pem_file(path: &Path) -> Result<TrustRoots, TlsError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| TlsError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut store = RootCertStore::empty();
        for (index, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
            let cert = cert.map_err(|e| TlsError::Certificate {
                path: shown.clone(),
                index,
                message: e.to_string(),
            })?;
            store.add(cert).map_err(|e| TlsError::Certificate {
                path: shown.clone(),
                index,
                message: e.to_string(),
            })?;
        }
        if store.is_empty() {
            return Err(TlsError::Empty { path: shown });
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        pem.hash(&mut hasher);
        Ok(TrustRoots {
            id: hasher.finish(),
            store: Arc::new(store),
        })
    }

    /// A stable identity of the bundle's content.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A client configuration trusting `roots`, or Mozilla's root program when `None`.
pub fn client_config(roots: Option<&TrustRoots>) -> ClientConfig {
    let store = match roots {
        Some(roots) => roots.store.clone(),
        None => Arc::new(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        )),
    };
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pem_bundle_and_identifies_it_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let a = TrustRoots::from_pem_file(&path).unwrap();
        let b = TrustRoots::from_pem_file(&path).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.store.len(), 1);
    }

    #[test]
    fn refuses_missing_empty_and_broken_bundles() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            TrustRoots::from_pem_file(&missing),
            Err(TlsError::Read { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(matches!(
            TrustRoots::from_pem_file(&empty),
            Err(TlsError::Empty { .. })
        ));
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(TrustRoots::from_pem_file(&broken).is_err());
    }
}
