/**
 * @privface/devstack/attacks — the attacks of issue 12 against a real stack (harness + one function
 * per attack), shared by `privface bench attacks` (./bench `runAttacksBench`) and the tests.
 */
export { startAttackStack, type AttackStack, type Tapped } from "./harness.ts";
export {
  craftedProbe, face, gatewayHoldsPartyPrivateKey, keySubstitution, lockoutReset, oracleAnswers, replayAtParty, repurposedEnvelope, unauthChallenge, wildcardUpgrade, withdrawTakeover,
} from "./attacks.ts";
