//! `check-connection`: can this machine open a TCP connection to a backend?
//!
//! The check runs in the host, with the standard library only: resolve the
//! name, then try each address with a timeout. It tells apart the outcomes a
//! user fixes differently: a name that does not resolve (DNS, typo), a host
//! that refuses (nothing listens on that port), and one that does not answer
//! (firewall, wrong network). It opens and closes the connection and sends
//! nothing.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

/// The timeout of each connection attempt unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a connection check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A TCP connection was established (and closed at once).
    Reachable {
        /// The address that answered.
        address: SocketAddr,
    },
    /// The name did not resolve to any address.
    DnsFailure {
        /// The resolver's explanation.
        reason: String,
    },
    /// Every address refused the connection: nothing listens there.
    Refused {
        /// The addresses tried.
        addresses: Vec<SocketAddr>,
    },
    /// No address answered within the timeout.
    TimedOut {
        /// The addresses tried.
        addresses: Vec<SocketAddr>,
        /// The timeout of each attempt.
        #[serde(serialize_with = "as_millis")]
        timeout: Duration,
    },
    /// Another network error (no route to the host, say).
    Failed {
        /// The system's explanation.
        reason: String,
    },
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(duration.as_millis())
}

impl Outcome {
    /// The exit status `check-connection` reports this outcome with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Reachable { .. } => 0,
            Outcome::DnsFailure { .. } => 3,
            Outcome::Refused { .. } => 4,
            Outcome::TimedOut { .. } => 5,
            Outcome::Failed { .. } => 6,
        }
    }

    /// Whether the connection was established.
    pub fn is_reachable(&self) -> bool {
        matches!(self, Outcome::Reachable { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Reachable { address } => write!(f, "reachable (connected to {address})"),
            Outcome::DnsFailure { reason } => write!(
                f,
                "DNS failure: the name does not resolve ({reason}); check the spelling, and that \
                 this machine uses the same DNS as the collector"
            ),
            Outcome::Refused { addresses } => write!(
                f,
                "connection refused by {}: nothing listens on that port; check the port and that \
                 the service runs",
                join(addresses)
            ),
            Outcome::TimedOut { addresses, timeout } => write!(
                f,
                "timed out after {} ms ({}): no answer; check firewalls and that this machine \
                 can reach that network, or allow more time with --timeout",
                timeout.as_millis(),
                join(addresses)
            ),
            Outcome::Failed { reason } => write!(f, "cannot connect: {reason}"),
        }
    }
}

fn join(addresses: &[SocketAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `address` (`host:port`) and tries each of its addresses in turn,
/// each with `timeout`, until one accepts.
///
/// Name resolution itself has no timeout here: the system resolver applies
/// its own.
pub fn check(address: &str, timeout: Duration) -> Outcome {
    let _span = tracing::info_span!("check_connection", %address).entered();
    let resolved: Vec<SocketAddr> = match address.to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(error) => {
            return Outcome::DnsFailure {
                reason: error.to_string(),
            };
        }
    };
    if resolved.is_empty() {
        return Outcome::DnsFailure {
            reason: "no address found".to_owned(),
        };
    }
    let (mut refused, mut timed_out, mut other) = (Vec::new(), Vec::new(), None);
    for candidate in &resolved {
        match TcpStream::connect_timeout(candidate, timeout) {
            Ok(_stream) => {
                return Outcome::Reachable {
                    address: *candidate,
                };
            }
            Err(error) => {
                tracing::debug!(%candidate, %error, "connection attempt failed");
                match error.kind() {
                    io::ErrorKind::ConnectionRefused => refused.push(*candidate),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        timed_out.push(*candidate)
                    }
                    _ => other = Some(format!("{candidate}: {error}")),
                }
            }
        }
    }
    if !timed_out.is_empty() {
        Outcome::TimedOut {
            addresses: timed_out,
            timeout,
        }
    } else if let Some(reason) = other {
        Outcome::Failed { reason }
    } else {
        Outcome::Refused { addresses: refused }
    }
}

/// Parses a timeout: a number of seconds (`5`, `0.5`) or a number with a unit
/// (`500ms`, `5s`, `1m`).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 5, 5s or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s or m"
            ));
        }
    };
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err(format!(
            "{text:?} is out of range; give more than 0 and at most an hour"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_listening_port_is_reachable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let outcome = check(&address.to_string(), DEFAULT_TIMEOUT);
        assert_eq!(outcome, Outcome::Reachable { address });
        assert_eq!(outcome.exit_code(), 0);
    }

    #[test]
    fn a_closed_port_refuses() {
        let address = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let outcome = check(&address.to_string(), DEFAULT_TIMEOUT);
        assert_eq!(
            outcome,
            Outcome::Refused {
                addresses: vec![address]
            }
        );
        assert_eq!(outcome.exit_code(), 4);
    }

    #[test]
    fn a_name_under_invalid_does_not_resolve() {
        // `.invalid` is reserved (RFC 2606): it never resolves.
        let outcome = check("floe-telemetry-check.invalid:4317", DEFAULT_TIMEOUT);
        assert!(matches!(outcome, Outcome::DnsFailure { .. }), "{outcome:?}");
        assert_eq!(outcome.exit_code(), 3);
    }

    #[test]
    fn each_outcome_has_its_exit_code_and_advice() {
        let address: SocketAddr = "192.0.2.1:4317".parse().unwrap();
        let timed_out = Outcome::TimedOut {
            addresses: vec![address],
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(timed_out.exit_code(), 5);
        let text = timed_out.to_string();
        assert!(
            text.starts_with("timed out after 1500 ms (192.0.2.1:4317)"),
            "{text}"
        );
        assert!(text.contains("--timeout"), "{text}");
        let failed = Outcome::Failed {
            reason: "network unreachable".to_owned(),
        };
        assert_eq!(failed.exit_code(), 6);
        assert!(!failed.is_reachable() && !timed_out.is_reachable());
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_timeout("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_timeout("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_timeout("0.25").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_timeout("1m").unwrap(), Duration::from_secs(60));
        for bad in ["", "0", "-1", "5h", "fast", "1e9"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
