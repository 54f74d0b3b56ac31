/**
 * @privface/transport — typed frames between the servers of privface. See README.md.
 */
export { TransportError } from "./_types.ts";
export type { Frame, OutFrame, ReceiveOptions, Transport, TransportErrorCode } from "./_types.ts";
export { encodeFrame, decodeFrame, packFrames, unpackFrames } from "./_frame.ts";
export { createMemoryNetwork, type MemoryNetwork } from "./memory.ts";
export { createWsTransport, LINK_PATH, MAX_FRAMES_PER_MESSAGE, type WsTransport, type WsTransportOptions } from "./ws.ts";
export { readCrl } from "@privface/pki";
export { watchCrl, type CrlWatch, type CrlWatchOptions } from "./crl.ts";
export { createMtlsServer, createMtlsAgent, expectPeer, mtlsServerOptions, peerRole, PeerRoleError, roleOfCertificate, type ExpectedPeer, type TlsMaterial } from "./tls.ts";
export { nodeHandler, requestJson, type Admission, type App, type AppRequest, type AppResponse, type JsonResult, type RequestHead } from "./http.ts";
export { createRpcClient, serveRpc, RPC_PATH, type RpcClient } from "./rpc.ts";
export { turnBatcher } from "./batch.ts";
