//! Certificates for the TLS tests: a throwaway CA, leaf certificates for 127.0.0.1 that it
//! issues, written as PEM files into a temporary folder, and clients that trust the CA.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A leaf certificate and its key, as PEM and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

/// A test CA with a folder holding the gateway's `cert.pem` and `key.pem`.
pub struct Pki {
    ca: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    pub dir: PathBuf,
}

impl Pki {
    pub fn new() -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scim-gateway-tls-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "scim-gateway test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca: Issuer::new(params, key),
            ca_der: cert.der().clone(),
            ca_pem: cert.pem(),
            dir,
        }
    }

    /// A certificate for 127.0.0.1 and localhost with this common name.
    pub fn leaf(&self, common_name: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// Writes the gateway's certificate and key files (the key first, as a renewal would).
    pub fn install(&self, leaf: &Leaf) {
        std::fs::write(self.key_path(), &leaf.key_pem).unwrap();
        std::fs::write(self.cert_path(), &leaf.cert_pem).unwrap();
    }

    /// The `[server]` line that serves the installed files.
    pub fn tls_line(&self) -> String {
        format!(
            "tls = {{ cert = {:?}, key = {:?} }}\n",
            self.cert_path().display().to_string(),
            self.key_path().display().to_string()
        )
    }

    /// A reqwest client that trusts only this CA (HTTP/2 by ALPN unless `http1_only`).
    pub fn reqwest_client(&self, http1_only: bool) -> reqwest::Client {
        scim_gateway::crypto::install_provider();
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap();
        let builder = reqwest::Client::builder().tls_certs_only([ca]);
        let builder = if http1_only {
            builder.http1_only()
        } else {
            builder
        };
        builder.build().unwrap()
    }

    /// A TLS connection to the gateway (HTTP/1.1 by ALPN), to look at the certificate it got.
    pub async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = TcpStream::connect(addr).await.unwrap();
        TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .expect("TLS handshake with the gateway")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The certificate the server presented on this connection.
pub fn peer_cert(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("the server sent a certificate")
        .clone()
        .into_owned()
}
