/**
 * The end-to-end scenario catalogue (@privface/devstack `SCENARIOS`) on a gateway whose database is
 * PostgreSQL, with the fake parties: the same decisions and histories as on SQLite. Runs in a fresh
 * schema that is dropped afterwards.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { openDb } from "@privface/db";
import { expectationsOf, observedOf, runScenario, scenarioWorld, SCENARIOS, type ScenarioWorld } from "@privface/devstack";
import { scenarioGateway, setup, type Fixture } from "../_setup.ts";

import { dropPgSchemas, PG as URL, pgSchema } from "../_pg.ts";

const schema = pgSchema("gwscen");

describe("scenario catalogue on PostgreSQL (fake parties)", () => {
  let f: Fixture;
  let w: ScenarioWorld;
  before(async () => {
    const db = await openDb(URL, { schema });
    assert.equal(db.dialect, "postgres");
    f = await setup("pg-scenarios", { db });
    w = await scenarioWorld(scenarioGateway(f));
  });
  after(async () => {
    await f?.close(); // closes its database too
    await dropPgSchemas([schema]);
  });

  for (const s of SCENARIOS) {
    test(s.name, async () => {
      assert.deepEqual(observedOf(await runScenario(s, w)), expectationsOf(s));
    });
  }
});
