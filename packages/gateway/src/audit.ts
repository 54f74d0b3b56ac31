/**
 * The gateway's audit trail on @privface/audit: a hash-chained, signed log in the gateway's own
 * database (role "gateway"). `auditSink(log)` maps the gateway's events onto audit entries:
 * requester = actor, op = action, templateId, session = request id (or the subject's opaque id),
 * outcome, code. Nothing personal goes in: ids are random, reasons typed by operators stay in the
 * gateway database (`operator_queries`).
 */
import type { AuditLog } from "@privface/audit";
import type { AuditEvent, AuditSink } from "./service.ts";

export function auditSink(log: AuditLog): AuditSink {
  return {
    check: () => log.check(),
    anchorSource: log,
    async append(e: AuditEvent) {
      await log.append({
        requester: e.actor,
        op: e.action,
        templateId: e.templateId ?? null,
        session: e.requestId ?? e.subject ?? null,
        outcome: e.outcome,
        code: e.code ?? null,
      });
    },
  };
}
