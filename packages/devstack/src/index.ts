/**
 * @privface/devstack — everything that runs the whole system on one machine, and nothing a
 * production server needs: the runtime home (`ensureRuntime`), the one orchestrator (`startStack`,
 * `spawnServer`), simulated POS terminals on the real device SDK (`device-sim`), a gateway simulator
 * for the parties' tests (`gateway-sim`), the gateway's fake parties (a plaintext twin held to the
 * real ones by a contract suite), a gateway HTTP client, the demo, the CLI's connection helpers, and
 * the benchmark drivers (`./bench`); the real parties in one process are `./inproc-parties` (kept out of
 * this entry point, so that the CLI does not load the party server). See README.md.
 */
export { ensureRuntime, gatewayResultKey } from "./runtime.ts";
export { startNetnsStack, netnsUnavailable, type NetnsStack, type NetnsStackOptions, type LinkName } from "./netns.ts";
export { startStack, spawnServer, freePorts, stackEnv, SERVER_NODE_FLAGS, type Stack, type StackOptions, type StackPorts, type ServerHandle, type ServerName, type SpawnOptions } from "./stack.ts";
export { createGatewayClient, type GatewayClient, type GatewayAnswer, type FetchLike } from "./gateway-client.ts";
export { simDevice, registerDevice, runtimeTrust, giveConsent, faceOp, withdraw, deregister, resend, embedImage, syntheticFaces, type SimDevice, type Outcome } from "./device-sim.ts";
export { createFakeParties, type FakeParties } from "./fake-parties.ts";
export { SCENARIOS, runScenario, scenarioWorld, expectationsOf, observedOf, ScenarioPerson, type Scenario, type Step, type Action, type Expect, type Face, type Observed, type ScenarioGateway, type ScenarioWorld } from "./scenarios.ts";
export { prometheusConfig, ALERT_RULES, type PrometheusConfigOptions } from "./monitoring.ts";
export { runDemo, formatTable, precomputedFaces, demoImageDir, type DemoResult, type DemoRow } from "./demo.ts";
export { buildWebApps } from "./web.ts";
export { writeY4m, faceFrame, type RgbaImage } from "./fake-camera.ts";
export { connect, cliDevice, describe, type Connection, type ConnectOptions } from "./cli-support.ts";
