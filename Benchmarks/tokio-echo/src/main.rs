//! bench-tokio-server: the tokio peer of the echo benchmark, written the way tokio's
//! own echo example is: one task per connection, read then write_all.
//!
//! CLI: bench-tokio-server [--host 127.0.0.1] [--port P] [--threads N]
//! --threads 1 (the default) runs a current-thread runtime, like one RingLoop loop;
//! N > 1 runs the multi-thread runtime with N workers.
//! Prints "PORT <n>" as the first stdout line (port 0 = the kernel picks), serves until killed.
use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn usage() -> ! {
    eprintln!("usage: bench-tokio-server [--host ADDR] [--port P] [--threads N]");
    std::process::exit(2);
}

fn main() {
    let mut host = String::from("127.0.0.1");
    let mut port: u16 = 0;
    let mut threads: usize = 1;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--threads" | "--loops" => threads = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if threads == 0 {
        usage();
    }
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_io().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_io().build()
    }
    .expect("tokio runtime");
    runtime.block_on(serve(host, port));
}

async fn serve(host: String, port: u16) {
    let listener = match TcpListener::bind((host.as_str(), port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bench-tokio-server: bind {}:{}: {}", host, port, error);
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("PORT {}", port);
    let _ = std::io::stdout().flush();
    loop {
        let (mut socket, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => continue,
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if socket.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}
