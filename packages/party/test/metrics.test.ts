/** The party's link metrics: up/down per link, and the peer link's round-trip time once measured (transport ws.ts keep-alive pings). */
import assert from "node:assert/strict";
import { it } from "node:test";
import { createPartyMetrics } from "../src/metrics.ts";

it("privface_party_link_rtt_seconds: absent before the first pong, then the last measured round trip in seconds", async () => {
  let rtt: number | undefined;
  const m = createPartyMetrics("P0", { poolLevel: async () => 5, peerUp: () => true, helperUp: () => false, peerRttMs: () => rtt });
  const before = await m.registry.metrics();
  assert.doesNotMatch(before, /privface_party_link_rtt_seconds\{/);
  assert.match(before, /privface_party_link_up\{link="peer",party="P0"\} 1/);
  assert.match(before, /privface_party_link_up\{link="helper",party="P0"\} 0/);
  rtt = 21.5;
  assert.match(await m.registry.metrics(), /privface_party_link_rtt_seconds\{link="peer",party="P0"\} 0\.0215/);
});

it("privface_party_audit_chain_ok and _audit_records: one chain check per scrape; 0 once broken", async () => {
  let status = { ok: true, records: 7 };
  let checks = 0;
  const m = createPartyMetrics("P1", { poolLevel: async () => 0, peerUp: () => true, helperUp: () => true, auditCheck: async () => (checks++, status) });
  const a = await m.registry.metrics();
  assert.match(a, /privface_party_audit_chain_ok\{party="P1"\} 1/);
  assert.match(a, /privface_party_audit_records\{party="P1"\} 7/);
  status = { ok: false, records: 7 };
  assert.match(await m.registry.metrics(), /privface_party_audit_chain_ok\{party="P1"\} 0/);
  assert.equal(checks, 2);
});
