//! The gateway's own listener: HTTPS with certificate renewal, HTTP/1.1 and HTTP/2 by ALPN,
//! slow and oversized request heads, and the drain on shutdown. Real sockets on 127.0.0.1.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::pki::{Pki, peer_cert};
use crate::support::{Stack, TOKEN, entra_user};

/// Long enough to tell a hang from slowness on a loaded 2-core machine.
const HANG: Duration = Duration::from_secs(20);

/// The sample stack with these lines added to `[server]`.
async fn stack_with(server_lines: &str) -> Stack {
    Stack::start_with(|text| text.replacen("[server]\n", &format!("[server]\n{server_lines}"), 1))
        .await
}

/// The sample stack serving HTTPS with the installed files, its client trusting the test CA.
async fn tls_stack(pki: &Pki, more_lines: &str) -> Stack {
    let mut stack = stack_with(&format!("{}{more_lines}", pki.tls_line())).await;
    stack.gateway.client = pki.reqwest_client(false);
    stack
}

/// Sends `GET {path}` with the test token on a kept-alive HTTP/1.1 connection and returns the
/// status code, reading exactly the response (the gateway always sends Content-Length).
async fn get_over<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, path: &str) -> u16 {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        let n = timeout(HANG, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "connection closed mid-response: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0; length];
    timeout(HANG, stream.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    head[9..12].parse().unwrap()
}

/// Everything the server sends until it closes the connection (a reset counts as closing).
async fn read_until_closed<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match timeout(HANG, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open; got {received:?}"),
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits until a new connection shows this certificate.
async fn wait_for_cert(pki: &Pki, stack: &Stack, der: &[u8]) -> bool {
    let deadline = tokio::time::Instant::now() + HANG;
    while tokio::time::Instant::now() < deadline {
        if peer_cert(&pki.connect(stack.addr).await).as_ref() == der {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test]
async fn https_creates_and_reads_a_user_with_https_locations() {
    let pki = Pki::new();
    pki.install(&pki.leaf("gateway A"));
    let stack = tls_stack(&pki, "").await;
    assert!(stack.base.starts_with("https://"), "{}", stack.base);

    let created = stack
        .create_user(entra_user("tls.user@example.com", "Tess", "Lane"))
        .await;
    let location = created["meta"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("https://{}/scim/v2/Users/", stack.addr)),
        "{location}"
    );
    let (status, read) = stack
        .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["userName"], json!("tls.user@example.com"));
    assert_eq!(read["meta"]["location"], created["meta"]["location"]);
}

#[tokio::test]
async fn alpn_gives_http2_and_http1_only_clients_still_work() {
    let pki = Pki::new();
    pki.install(&pki.leaf("gateway A"));
    let stack = tls_stack(&pki, "").await;
    let url = format!("{}/Users", stack.base);

    let h2 = pki.reqwest_client(false);
    let created = h2
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(entra_user("h2.user@example.com", "Hana", "Two").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.version(), http::Version::HTTP_2);
    assert_eq!(created.status(), StatusCode::CREATED);
    // HTTP/2 has no Host header: the location comes from :authority.
    let body: serde_json::Value = created.json().await.unwrap();
    let location = body["meta"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("https://{}/", stack.addr)),
        "{location}"
    );

    let h1 = pki.reqwest_client(true);
    let listed = h1.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(listed.version(), http::Version::HTTP_11);
    assert_eq!(listed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_renewed_certificate_reaches_new_connections_and_old_ones_keep_going() {
    let pki = Pki::new();
    let a = pki.leaf("gateway A");
    let b = pki.leaf("gateway B");
    pki.install(&a);
    // Idle keep-alive connections close after the header read timeout: keep the old one open.
    let stack = tls_stack(&pki, "header_read_timeout_ms = 60000\n").await;
    let mut old = pki.connect(stack.addr).await;
    assert_eq!(peer_cert(&old), a.der);
    assert_eq!(
        get_over(&mut old, "/scim/v2/ServiceProviderConfig").await,
        200
    );

    pki.install(&b);
    assert!(
        wait_for_cert(&pki, &stack, &b.der).await,
        "new connections never got the renewed certificate"
    );
    assert_eq!(
        get_over(&mut old, "/scim/v2/ServiceProviderConfig").await,
        200
    );
    assert_eq!(peer_cert(&old), a.der);
}

#[tokio::test]
async fn a_bad_renewal_keeps_the_old_certificate() {
    let pki = Pki::new();
    let a = pki.leaf("gateway A");
    pki.install(&a);
    let stack = tls_stack(&pki, "").await;

    std::fs::write(pki.cert_path(), "not a certificate\n").unwrap();
    // The watcher looks every second: give it a few looks at the garbage.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(peer_cert(&pki.connect(stack.addr).await), a.der);
    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);

    // The watcher is still alive: a good pair after the bad one is taken.
    let c = pki.leaf("gateway C");
    pki.install(&c);
    assert!(wait_for_cert(&pki, &stack, &c.der).await);
}

#[tokio::test]
async fn a_client_dribbling_its_request_head_is_cut_off() {
    let stack = stack_with("header_read_timeout_ms = 1000\n").await;
    let stream = TcpStream::connect(stack.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let dribbler = tokio::spawn(async move {
        write
            .write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n")
            .await?;
        // Bounded: 100 bytes at 300 ms is 30 s, far past the timeout.
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            write.write_all(b"X").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let answer = read_until_closed(&mut read).await;
    assert!(
        !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 2"),
        "{answer:?}"
    );
    dribbler.abort();

    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_never_speaks_tls_is_dropped() {
    let pki = Pki::new();
    pki.install(&pki.leaf("gateway A"));
    let stack = tls_stack(&pki, "header_read_timeout_ms = 1000\n").await;
    let mut silent = TcpStream::connect(stack.addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());

    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_silent_plain_connection_is_dropped() {
    let stack = stack_with("header_read_timeout_ms = 1000\n").await;
    let mut silent = TcpStream::connect(stack.addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());
    // Stopping inside the HTTP/2 preface is no way around it.
    let mut stuck = TcpStream::connect(stack.addr).await.unwrap();
    stuck.write_all(b"PRI * HTTP").await.unwrap();
    assert!(read_until_closed(&mut stuck).await.is_empty());

    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_request_head_gets_431_and_the_gateway_keeps_serving() {
    let stack = stack_with("").await;
    let mut stream = TcpStream::connect(stack.addr).await.unwrap();
    let request = format!(
        "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    // The server may stop reading (and reset) before all of it is written.
    let _ = stream.write_all(request.as_bytes()).await;
    let answer = String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "expected 431, got {answer:?}"
    );

    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_headers_over_http2_get_a_scim_431_or_lose_the_connection() {
    let pki = Pki::new();
    pki.install(&pki.leaf("gateway A"));
    let stack = tls_stack(&pki, "").await;
    let send = |header_bytes: usize| {
        stack
            .client
            .get(format!("{}/Users", stack.base))
            .bearer_auth(TOKEN)
            .header("x-big", "a".repeat(header_bytes))
            .send()
    };
    // Over max_header_bytes: a SCIM 431.
    let over = send(20 * 1024).await.unwrap();
    assert_eq!(over.version(), http::Version::HTTP_2);
    assert_eq!(over.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(over.headers()["content-type"], "application/scim+json");
    let body: serde_json::Value = over.json().await.unwrap();
    assert_eq!(body["status"], "431", "{body}");
    // Far over (four times h2's own limit of twice max_header_bytes) h2 calls it abuse and
    // closes the connection (GOAWAY ENHANCE_YOUR_CALM) without reading the rest.
    let abuse = send(160 * 1024).await;
    assert!(abuse.is_err(), "{abuse:?}");

    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
}

/// Starts a create the slowed-down sample API holds for `delay`, and waits until it is there.
async fn create_in_flight(
    stack: &Stack,
    delay: Duration,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    stack.legacy.set_delay(delay);
    let request = stack
        .client
        .post(format!("{}/Users", stack.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(entra_user("slow.user@example.com", "Slow", "Lee").to_string());
    let in_flight = tokio::spawn(request.send());
    let deadline = tokio::time::Instant::now() + HANG;
    while stack.legacy.request_count().posts == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the create never reached the API"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    in_flight
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_connections() {
    let stack = stack_with("").await;
    let in_flight = create_in_flight(&stack, Duration::from_millis(1500)).await;
    let addr = stack.addr;
    let served = stack.gateway.shut_down();

    let deadline = tokio::time::Instant::now() + HANG;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = timeout(HANG, in_flight).await.unwrap().unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    timeout(HANG, served).await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_cuts_requests_that_outlive_the_grace() {
    let stack = stack_with("shutdown_grace_ms = 200\n").await;
    let in_flight = create_in_flight(&stack, Duration::from_secs(5)).await;
    let served = stack.gateway.shut_down();

    timeout(HANG, served).await.unwrap().unwrap();
    let cut = timeout(HANG, in_flight).await.unwrap().unwrap();
    assert!(cut.is_err(), "the request outlived the grace: {cut:?}");
}
