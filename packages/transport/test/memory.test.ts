import { createMemoryNetwork } from "../src/index.ts";
import { transportContract } from "../src/contract.ts";

transportContract("memory", async () => {
  const net = createMemoryNetwork();
  const a = net.endpoint("p0");
  const b = net.endpoint("p1");
  return { a, b, close: async () => { await a.close(); await b.close(); } };
});
