import { loopbackSuite, sqliteDb } from "./_loopback.ts";

loopbackSuite("SQLite", sqliteDb);
