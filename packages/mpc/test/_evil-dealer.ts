/** The cheating helper, now `@privface/mpc/evil-dealer` (src/evil-dealer.ts); kept for the tests that import it from here. */
export * from "../src/evil-dealer.ts";
