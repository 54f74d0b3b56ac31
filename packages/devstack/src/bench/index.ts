/**
 * The benchmark drivers behind `privface bench <suite>` (one JSON line per result; docs/benchmarks.md).
 */
export { benchMpc, type MpcBenchResult } from "./mpc.ts";
export { benchDedup, type DedupBenchOptions, type DedupBenchResult } from "./dedup.ts";
export { benchDedupShards, type DedupShardsBenchOptions, type DedupShardsBenchResult } from "./dedup-shards.ts";
export { runVerifyBench, type VerifyBenchOptions, type VerifyBenchResult } from "./verify.ts";
export { runE2eBench, syntheticFace, type E2eBenchOptions, type SuiteResult } from "./e2e.ts";
export { runFaceBench, runAccuracyBench, defaultDataset, listDataset, embedDataset, allPairScores, parseLfwPairs, detSvg, type DatasetImage, type EmbeddedImage, type FaceBenchResult, type AccuracyBenchOptions } from "./face.ts";
export { runPadBench, scorePadFrames, padRates, padEer, padDetSvg, listImages, attackType, type PadBenchOptions, type PadFrame, type PadRates } from "./pad.ts";
export { runAttacksBench, ATTACK_FIELDS, type AttacksBenchOptions, type AttacksBenchResult } from "./attacks.ts";
export { runCaptureBench, type CaptureBenchOptions } from "./capture.ts";
export { runBrowserBench, runBrowserCaptureBench, runBrowserEmbedBench, BACKEND_SWITCHES, type BrowserBackend, type BrowserBenchOptions, type BrowserCaptureBenchOptions } from "./browser.ts";
export { benchMerchant, benchPerson } from "./_stack.ts";
export { runSoakBench, judge, CYCLE, INVALID, LATE_MS, type SoakOptions, type SoakResult, type SoakOp } from "./soak.ts";
