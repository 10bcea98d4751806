//! Handlers behind TLS: `https://` deliveries verify the handler's certificate against the route's CA
//! bundle (`downstream.ca_file`) or, without one, Mozilla's roots.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::support::*;

/// A private CA, and an HTTPS handler on 127.0.0.1:0 whose certificate it signed; records bodies.
pub(crate) struct TlsHandler {
    pub(crate) url: String,
    ca_pem: String,
    pub(crate) bodies: Arc<Mutex<Vec<Bytes>>>,
}

pub(crate) async fn start_tls_handler() -> TlsHandler {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hookshift test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();

    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&bodies);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, recorded) = (acceptor.clone(), Arc::clone(&recorded));
            tokio::spawn(async move {
                // A failed handshake (an untrusting client) just ends the connection.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let recorded = Arc::clone(&recorded);
                    async move {
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        recorded.lock().unwrap().push(body);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    TlsHandler {
        url: format!("https://{addr}/hook"),
        ca_pem: ca.pem(),
        bodies,
    }
}

#[tokio::test]
async fn https_handler_behind_a_private_ca_gets_the_event_and_an_untrusted_one_does_not() {
    let handler = start_tls_handler().await;
    let certs = tempfile::tempdir().unwrap();
    let ca_file = certs.path().join("handler-ca.pem");
    std::fs::write(&ca_file, &handler.ca_pem).unwrap();
    let mut trusted = RouteSpec::extend("tls_trusted").to(&handler.url);
    trusted.ca_file = Some(ca_file);
    // Same handler, no bundle: its certificate does not chain to Mozilla's roots.
    let untrusted = RouteSpec::extend("tls_untrusted").to(&handler.url);
    let Harness { hs, .. } = Harness::setup(trusted).route(untrusted).start().await;

    let body = new_event_bytes();
    let path = format!("/hooks/tls_trusted?api_version={NEW}");
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered")),
        "{answer:?}"
    );
    assert_eq!(
        handler.bodies.lock().unwrap().as_slice(),
        [Bytes::from(body.clone())]
    );

    let path = format!("/hooks/tls_untrusted?api_version={NEW}");
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(
        (answer.status, answer.error()),
        (502, "downstream_unreachable"),
        "{answer:?}"
    );
    assert_eq!(
        handler.bodies.lock().unwrap().len(),
        1,
        "nothing reached the handler untrusted"
    );
}

#[tokio::test]
async fn a_ca_file_that_is_not_a_certificate_refuses_the_config_naming_the_key() {
    let certs = tempfile::tempdir().unwrap();
    let ca_file = certs.path().join("not-a-ca.pem");
    std::fs::write(&ca_file, "hello\n").unwrap();
    let mut route = RouteSpec::extend("tls_bad_ca").to("https://127.0.0.1:9/hook");
    route.ca_file = Some(ca_file);
    let files = Harness::setup(route).write().await;
    let error = hookshift::state::State::load(&files.config_path).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("routes[0].downstream.ca_file") && text.contains("no PEM certificate"),
        "{text}"
    );
}
