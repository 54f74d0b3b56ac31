/**
 * Mutual-TLS helpers shared by the party, helper and gateway servers: server options (TLS 1.3 only,
 * client certificate required and checked against the deployment CA), clients that check the
 * server's role (`expectPeer`: a client refuses a server whose certificate names another role than
 * the one it called), and mapping an authenticated peer certificate to its role (SAN URI
 * `urn:privface:role:<role>`, else subject CN). A server presents its server certificate
 * (serverAuth) and calls others with its client certificate (clientAuth): TLS refuses either in the
 * other's place (@privface/pki).
 */
import type { RequestListener } from "node:http";
import https from "node:https";
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from "node:tls";
import { roleOf } from "@privface/pki";
import type { ServerRole } from "@privface/contracts";

export interface TlsMaterial {
  /** PEM of the deployment CA (trust anchor for peers). */
  ca: string | Buffer;
  /** PEM certificate and key of this server. */
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * PEM CRL of the deployment CA (@privface/pki `ca.crl`): a peer whose certificate it lists is refused
   * in the handshake, on both sides of every link. Read at start; `watchCrl` (crl.ts) puts a newer one here while the server runs.
   */
  crl?: string | Buffer;
}

/** The CRL option of node:tls, when there is one. */
export const crlOption = (tls: TlsMaterial): { crl?: string | Buffer } => (tls.crl ? { crl: tls.crl } : {});

export function mtlsServerOptions(tls: TlsMaterial): https.ServerOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...crlOption(tls),
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

/** The role(s) a client accepts at the other end: the server's certificate must name one of them. */
export type ExpectedPeer = ServerRole | readonly ServerRole[];

/** An error naming a server whose certificate names another role than expected. */
export class PeerRoleError extends Error {
  readonly code = "ERR_PEER_ROLE";
  constructor(
    readonly got: ServerRole | null,
    readonly expected: readonly ServerRole[],
  ) {
    super(`server certificate names role ${got ?? "none"}, expected ${expected.join(" or ")}`);
    this.name = "PeerRoleError";
  }
}

/**
 * A TLS `checkServerIdentity` that, after the usual host name check, refuses a server whose
 * certificate names another role than `expected` (the handshake fails before any byte is sent).
 */
export function expectPeer(expected: ExpectedPeer): (host: string, cert: PeerCertificate) => Error | undefined {
  const allowed: readonly ServerRole[] = typeof expected === "string" ? [expected] : expected;
  return (host, cert) => {
    const e = checkServerIdentity(host, cert);
    if (e) return e;
    const role = roleOf(cert);
    if (!role || !allowed.includes(role)) return new PeerRoleError(role, allowed);
    return undefined;
  };
}

/**
 * A keep-alive HTTPS agent presenting this server's client certificate; with `expect`, it talks
 * only to a server whose certificate names that role.
 */
export function createMtlsAgent(tls: TlsMaterial, maxSockets = 64, opts: { expect?: ExpectedPeer } = {}): https.Agent {
  return new https.Agent({
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...crlOption(tls),
    minVersion: "TLSv1.3",
    keepAlive: true,
    maxSockets,
    ...(opts.expect ? { checkServerIdentity: expectPeer(opts.expect) } : {}),
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
