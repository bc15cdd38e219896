//! Which addresses a webhook may reach: by default only public ones, so that a client
//! cannot make the server call its own private network (a database's admin port, a
//! cloud's metadata service at 169.254.169.254) on its behalf.
//!
//! The check runs on the addresses a delivery actually connects to: the HTTP client
//! resolves names through [`PublicOnly`], which drops every address that is not
//! public, so a name that resolved to a public address when the webhook was created
//! and to a private one later (DNS rebinding) is refused at that delivery. A URL that
//! names an address directly never reaches the resolver, so [`check_literal`] checks
//! it before every request. `--webhook-allow-private` lifts the rule (for receivers on
//! the same machine or network, and the test suites).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The host is, or resolves to, an address that is not public, or does not
    /// resolve at all: one answer for both, so that clients cannot use the server to
    /// learn what its network's names resolve to.
    #[error(
        "{host} is not a public address, or does not resolve to public addresses only; \
         a webhook may only reach public addresses unless the server runs with \
         --webhook-allow-private"
    )]
    NotPublic {
        /// The host as written.
        host: String,
    },
}

/// Whether `address` is on the public internet. IPv4: not loopback, private, shared
/// (carrier-grade NAT), link-local (where cloud metadata services answer), multicast,
/// broadcast, documentation, benchmarking, relay or reserved. IPv6: only global unicast
/// (`2000::/3`), without the ranges set aside in it (protocol assignments such as
/// Teredo, benchmarking and ORCHID, documentation); an IPv4 address carried in IPv6
/// (mapped, well-known NAT64, 6to4) is judged as that IPv4 address.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            let embedded = |high: u16, low: u16| {
                let [a, b] = high.to_be_bytes();
                let [c, d] = low.to_be_bytes();
                Ipv4Addr::new(a, b, c, d)
            };
            // 64:ff9b::/96, well-known NAT64: an IPv4 address in the last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded(segments[6], segments[7]));
            }
            // 2002::/16, 6to4: an IPv4 address in the 32 bits after the prefix.
            if segments[0] == 0x2002 {
                return is_public_v4(embedded(segments[1], segments[2]));
            }
            let set_aside = match segments[0] {
                // 2001::/23, protocol assignments; 2001:db8::/32, documentation.
                0x2001 => segments[1] < 0x0200 || segments[1] == 0x0db8,
                // 3fff::/20, documentation.
                first => (first & 0xfff0) == 0x3ff0,
            };
            // 2000::/3, global unicast.
            (segments[0] & 0xe000) == 0x2000 && !set_aside
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_unspecified()
        || a == 0 // 0.0.0.0/8, "this network"
        || v4.is_loopback()
        || v4.is_private()
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10, shared address space
        || v4.is_link_local()
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24, protocol assignments
        || v4.is_documentation()
        || (a == 198 && (18..20).contains(&b)) // 198.18.0.0/15, benchmarking
        || (a == 192 && b == 88 && c == 99) // 192.88.99.0/24, 6to4 relays
        || v4.is_multicast()
        || a >= 240) // 240.0.0.0/4, reserved, and the broadcast address
}

/// Refuses a URL host that is an address and not a public one.
pub fn check_literal(host: &Host<&str>) -> Result<(), TargetError> {
    let address = match host {
        Host::Ipv4(v4) => IpAddr::V4(*v4),
        Host::Ipv6(v6) => IpAddr::V6(*v6),
        Host::Domain(_) => return Ok(()),
    };
    if is_public(address) {
        Ok(())
    } else {
        Err(TargetError::NotPublic {
            host: host.to_string(),
        })
    }
}

/// Resolves `host` and refuses it unless every address it resolves to is public: what
/// creating a webhook checks, so a mistake shows at once rather than at the first
/// delivery.
pub async fn check_host(host: &Host<&str>) -> Result<(), TargetError> {
    check_literal(host)?;
    let Host::Domain(name) = host else {
        return Ok(());
    };
    let addresses = resolve(name).await?;
    if addresses.iter().all(|address| is_public(address.ip())) {
        Ok(())
    } else {
        Err(TargetError::NotPublic {
            host: (*name).to_owned(),
        })
    }
}

async fn resolve(name: &str) -> Result<Vec<SocketAddr>, TargetError> {
    let refused = || TargetError::NotPublic {
        host: name.to_owned(),
    };
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
        .await
        .map_err(|_| refused())?
        .collect();
    if addresses.is_empty() {
        return Err(refused());
    }
    Ok(addresses)
}

/// The HTTP client's resolver: the system's, keeping only public addresses.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let name = name.as_str();
            let public: Vec<SocketAddr> = resolve(name)
                .await?
                .into_iter()
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(TargetError::NotPublic {
                    host: name.to_owned(),
                }
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.0.170",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::127.0.0.1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::",
            "2002:a00:1::",
            "64:ff9b:1::7f00:1",
            "::ffff:0:7f00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
            "2001:2::1",
            "2001:10::1",
            "3fff::1",
            "5f00::1",
            "192.88.99.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn hosts_that_reach_the_machine_itself_are_refused() {
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://localhost/",
            "http://0x7f.1/",
        ] {
            let url = url::Url::parse(url).unwrap();
            let refused = check_host(&url.host().unwrap()).await;
            assert!(
                matches!(refused, Err(TargetError::NotPublic { .. })),
                "{url}: {refused:?}"
            );
        }
    }
}
