// Entry of a `bench dedup` party thread: TypeScript through tsx (hooks registered in the main thread
// are not inherited by worker threads on Node 20), then the party's code.
import { register } from "tsx/esm/api";

register();
await import("./dedup-party.ts");
