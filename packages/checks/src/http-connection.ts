import { lookup } from 'node:dns';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';
import type { HttpPhases } from './check.js';

/** What opening one connection measured. */
export interface ConnectionTimings {
  phases: HttpPhases;
  /** performance.now() when the connection was ready for the request. */
  readyAt?: number;
  tlsEarliestCertExpiry?: number;
}

export interface TlsOptions {
  /** Extra trusted CA certificates (PEM), e.g. a private CA. */
  ca?: string;
  /** The name to verify the certificate against and send as SNI; defaults to the URL's host. */
  serverName?: string;
}

/**
 * An undici connector that opens one connection the way a prober does, timing DNS, TCP and TLS
 * separately and reading the peer's certificate chain, at no cost beyond a few timestamps.
 */
export function timedConnector(timings: ConnectionTimings, tlsOptions: TlsOptions = {}): buildConnector.connector {
  return (options, callback) => {
    let settled = false;
    const settle = (err: Error | null, socket?: Socket) => {
      if (settled) return;
      settled = true;
      if (err) callback(err, null);
      else callback(null, socket!);
    };
    const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
    const https = options.protocol === 'https:';
    const port = Number(options.port) || (https ? 443 : 80);
    const started = performance.now();

    const open = (address: string) => {
      const tcpStarted = performance.now();
      const socket = netConnect({ host: address, port });
      socket.setNoDelay(true);
      socket.once('error', (err) => settle(err));
      socket.once('connect', () => {
        const connected = performance.now();
        timings.phases.connect = connected - tcpStarted;
        if (!https) {
          timings.readyAt = connected;
          return settle(null, socket);
        }
        const servername = tlsOptions.serverName ?? (isIP(host) ? undefined : host);
        // `host` is what the certificate is verified against (the URL's host, not the resolved address).
        const secure = tlsConnect({ socket, host: tlsOptions.serverName ?? host, servername, ALPNProtocols: ['http/1.1'], ...(tlsOptions.ca ? { ca: tlsOptions.ca } : {}) });
        secure.once('error', (err: Error) => settle(err));
        secure.once('secureConnect', () => {
          const ready = performance.now();
          timings.phases.tls = ready - connected;
          timings.readyAt = ready;
          timings.tlsEarliestCertExpiry = earliestExpiry(secure);
          settle(null, secure);
        });
      });
    };

    if (isIP(host)) return open(host);
    lookup(host, (err, address) => {
      timings.phases.dns = performance.now() - started;
      if (err) settle(err);
      else open(address);
    });
  };
}

/** The earliest notAfter in the chain the peer presented, in unix seconds. */
export function earliestExpiry(socket: TLSSocket): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // A self-signed root is its own issuer; the fingerprint set ends the walk there.
  while (cert?.fingerprint256 && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const notAfter = Date.parse(cert.valid_to) / 1000;
    if (Number.isFinite(notAfter)) earliest = earliest === undefined ? notAfter : Math.min(earliest, notAfter);
    // Absent when the peer did not send its issuer.
    cert = cert.issuerCertificate;
  }
  return earliest;
}
