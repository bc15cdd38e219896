//! Graceful shutdown: the signal that starts it.
//!
//! On SIGINT or SIGTERM the server stops accepting connections, lets in-flight requests
//! finish (each write is one database transaction, so none is left half-written), then
//! closes the database cleanly.

/// Completes when the process is asked to stop (SIGINT / Ctrl-C, or SIGTERM).
pub async fn signal() {
    let interrupt = async {
        tokio::signal::ctrl_c()
            .await
            .expect("the SIGINT handler installs");
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("the SIGTERM handler installs")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received; finishing in-flight requests"),
        () = terminate => tracing::info!("SIGTERM received; finishing in-flight requests"),
    }
}
