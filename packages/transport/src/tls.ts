/**
 * Mutual-TLS helpers shared by the party, helper and gateway servers: server options (TLS 1.3 only,
 * client certificate required and checked against the deployment CA), and mapping an
 * authenticated peer certificate to its role (SAN URI `urn:privface:role:<role>`, else subject CN).
 */
import type { RequestListener } from "node:http";
import https from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { roleOf } from "@privface/pki";
import type { ServerRole } from "@privface/contracts";

export interface TlsMaterial {
  /** PEM of the deployment CA (trust anchor for peers). */
  ca: string | Buffer;
  /** PEM certificate and key of this server. */
  cert: string | Buffer;
  key: string | Buffer;
}

export function mtlsServerOptions(tls: TlsMaterial): https.ServerOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  };
}

/** An HTTPS server that only completes handshakes with clients holding a certificate from `tls.ca`. */
export function createMtlsServer(tls: TlsMaterial, handler?: RequestListener): https.Server {
  const server = https.createServer(mtlsServerOptions(tls), handler);
  server.keepAliveTimeout = 60_000;
  return server;
}

/** A keep-alive HTTPS agent presenting this server's client certificate. */
export function createMtlsAgent(tls: TlsMaterial, maxSockets = 64): https.Agent {
  return new https.Agent({
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: "TLSv1.3",
    keepAlive: true,
    maxSockets,
  });
}

/** ServerRole named by a certificate (SAN `urn:privface:role:<role>`, else CN): @privface/pki `roleOf`. */
export function roleOfCertificate(cert: PeerCertificate | null | undefined): ServerRole | null {
  return roleOf(cert);
}

const roleCache = new WeakMap<TLSSocket, ServerRole | null>();

/**
 * ServerRole of the authenticated peer on a TLS socket, or null when unauthenticated / unknown. Cached per
 * socket (the certificate of a TLS connection cannot change; getPeerCertificate is costly).
 */
export function peerRole(socket: TLSSocket, roleOf: (c: PeerCertificate) => ServerRole | null = roleOfCertificate): ServerRole | null {
  if (!socket.authorized) return null;
  const cached = roleCache.get(socket);
  if (cached !== undefined) return cached;
  const role = roleOf(socket.getPeerCertificate());
  roleCache.set(socket, role);
  return role;
}
