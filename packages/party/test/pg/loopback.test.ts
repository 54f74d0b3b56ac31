import { loopbackSuite, pgDb } from "../_loopback.ts";

loopbackSuite("PostgreSQL", () => pgDb());
