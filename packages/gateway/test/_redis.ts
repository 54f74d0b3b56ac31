/** The test Redis (127.0.0.1:6379 unless PRIVFACE_TEST_REDIS_URL): tests that need one skip without it. */
import { Redis } from "ioredis";

export const REDIS = process.env.PRIVFACE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const NO_REDIS = "no Redis at 127.0.0.1:6379";

export async function redisUp(url = REDIS): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => {});
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
