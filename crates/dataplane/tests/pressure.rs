//! Abrupt resets and slow targets (RELIABILITY items 64 and 67), end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use underpass_dataplane::{Dataplane, FlowAction, FlowReason};
use underpass_domain::ConnState;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Provider and consumer for `w`, with one target at `w.target_ip(1)` run by the test itself.
async fn wire(w: &World) -> (Dataplane, Dataplane, Events, TcpListener) {
    let target = TcpListener::bind(SocketAddr::new(w.target_ip(1).into(), TARGET_PORT))
        .await
        .unwrap();
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    (provider, consumer, pe, target)
}

async fn accept(target: &TcpListener) -> TcpStream {
    tokio::time::timeout(LIMIT, target.accept())
        .await
        .expect("the flow never reached the target")
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reset_reaches_the_target_as_a_reset() {
    let w = World::new(40);
    let (provider, consumer, pe, target) = wire(&w).await;
    let mut client = connect_from(LOCAL, w.eni_addr()).await;
    client.write_all(b"x").await.unwrap();
    let mut server = accept(&target).await;
    let mut byte = [0u8; 1];
    server.read_exact(&mut byte).await.unwrap();

    client.set_zero_linger().unwrap();
    drop(client); // RST
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(2), server.read(&mut buf))
        .await
        .expect("the target did not learn of the reset within 2 s");
    let err = read.expect_err("a reset, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let gev = pe
        .wait_for("gateway end", |e| e.action == FlowAction::Accept)
        .await;
    assert_eq!(gev.reason, FlowReason::Reset);
    eventually("no live flow left", || {
        (provider.live_flows() == 0).then_some(())
    })
    .await;
    eventually("no live flow left", || {
        (consumer.live_flows() == 0).then_some(())
    })
    .await;
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_reads_pushes_back_on_the_client() {
    let w = World::new(41);
    let (provider, consumer, _pe, target) = wire(&w).await;
    let mut client = connect_from(LOCAL, w.eni_addr()).await;
    let chunk = vec![7u8; 64 * 1024];
    client.write_all(&chunk).await.unwrap();
    let _stuck = accept(&target).await; // accepted, never read

    // Write until a write stalls for a second. Without backpressure the data plane would
    // take everything into memory and the writes would never stall.
    const CEILING: usize = 256 * 1024 * 1024;
    let mut written = chunk.len();
    loop {
        let write = tokio::time::timeout(Duration::from_secs(1), client.write_all(&chunk)).await;
        if write.is_err() {
            break;
        }
        write.unwrap().unwrap();
        written += chunk.len();
        assert!(
            written < CEILING,
            "{written} bytes taken without pushing back"
        );
    }
    // Buffers are per flow: another flow through the same endpoint is not held up.
    let mut other = connect_from(LOCAL, w.eni_addr()).await;
    other.write_all(b"ping").await.unwrap();
    let mut second = accept(&target).await;
    let mut got = [0u8; 4];
    tokio::time::timeout(LIMIT, second.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"ping");
    assert_eq!(provider.live_flows(), 2);
    consumer.shutdown().await;
    provider.shutdown().await;
}
