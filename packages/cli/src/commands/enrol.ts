/**
 * `privface enrol --image FILE --merchant M --person P`: enrol a person's face at a running stack from
 * an image, through the on-device engine (the image never leaves this process; only sealed shares
 * are sent). Gives consent first with `--accept-notice` after showing the privacy notice (R9).
 */
import type { Command } from "commander";
import { faceCommand } from "./verify.ts";

export function register(program: Command): void {
  faceCommand(program, "enrol", "enrol a person's face from an image at a running gateway");
}
