//! A `redis-server` for tests (Debian's), on a loopback port. Without it a test says so and
//! passes, unless `FLOWGATE_REQUIRE_REDIS` is set (as `.ci/run` does).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` of this test on a loopback port; killed when dropped.
pub struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    /// Starts one, or `None` (the test passes, saying why) when `redis-server` is missing.
    pub fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Redis { child: None, port };
        if redis.restart() {
            return Some(redis);
        }
        let message = "missing redis-server (Debian's redis-server); .ci/run installs it";
        if std::env::var_os("FLOWGATE_REQUIRE_REDIS").is_some() {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        None
    }

    pub fn restart(&mut self) -> bool {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not listen on {port}");
    }

    /// Stops (`STOP`) or resumes (`CONT`) the server without closing its connections.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        assert!(status.unwrap().success());
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
