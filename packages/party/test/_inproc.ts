/**
 * Both parties in one process: SQLite in memory, the in-memory transport, a local dealer standing in
 * for the helper, an in-memory audit sink. For fast tests of the session logic. The harness is
 * @privface/devstack's `startInProcParties` (the Party-API contract suite runs on the same one).
 */
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";

export type InProc = InProcParties;

export function makeInProc(opts: Parameters<typeof startInProcParties>[0] = {}): Promise<InProc> {
  return startInProcParties(opts);
}
